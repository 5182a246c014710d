"""Run dbt the way a user does (a subprocess of the venv's dbt CLI), isolated per call.

Every call gets its own DuckDB file, target and log directory, so tests never share state and several builds can
coexist. Output is captured so tests can assert on dbt_hte's error messages.

Parsing is shared, nothing else: a full parse of a project costs about 12 s and most tests run dbt on the same
project with the same vars, so each new target directory starts with the partial_parse.msgpack of the last
successful parse of that project and those vars (dbt then checks every file's checksum, the vars, the profile and
the dbt_project.yml files, and reparses what changed; measured 5 s instead of 12). For the profile to be the same
across calls, dbt runs in the call's own folder and the DuckDB path is relative to it ("hte.duckdb").
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass
class DbtResult:
    returncode: int
    output: str
    db_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def table(self, name: str, schema: str = "main") -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(f'select * from "{schema}"."{name}"').df()

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).df()


def process_temp_dir(prefix: str) -> Path:
    """A temporary folder that lives as long as this test process (a worker's shared copies and parse caches):
    removed when the process exits, so a suite run leaves nothing in /tmp (it left 1.4 GB after a few hundred)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


_COPIES: dict[Path, Path] = {}


def private_copy(result: DbtResult) -> Path:
    """The folder of this process's own copy of `result`'s warehouse (hte.duckdb, what run_dbt points at there).

    The demo build is shared read-only by the test workers (tests/conftest.py): a test that runs dbt on it (an
    export, docs generate) opens it for writing, which DuckDB allows one process at a time, so it works on a copy.
    """
    if result.db_path not in _COPIES:
        folder = process_temp_dir("hte_copy_")
        shutil.copyfile(result.db_path, folder / "hte.duckdb")
        _COPIES[result.db_path] = folder
    return _COPIES[result.db_path]


# The shared folder (real data) lies beside the repository, in development and in CI; HTE_SHARED_DATA_DIR overrides.
SHARED_DATA = Path(os.environ.get("HTE_SHARED_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
HILLSTROM_CSV = SHARED_DATA / "hillstrom.csv"

# (project folder, vars) -> a copy of partial_parse.msgpack from a call that parsed them (one per pytest process).
_PARSED: dict[str, Path] = {}


def run_dbt(
    args: list[str],
    workdir: Path,
    *,
    vars: dict | None = None,
    project_dir: Path = REPO,
    timeout: int = 900,
    env: dict | None = None,
) -> DbtResult:
    """Run `dbt <args>` against `project_dir` with a private DuckDB file and target under `workdir`; `env` adds
    environment variables (paths a test's inputs live at: unlike vars, a changed env var makes dbt reparse only
    the files that read it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "hte.duckdb"
    # the integration project's default data folder is relative to where dbt runs: name it absolutely
    shared = Path(os.environ.get("HTE_SHARED_DATA_DIR", SHARED_DATA)).resolve()
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO),
        "DBT_HTE_DUCKDB_PATH": db_path.name,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "HTE_SHARED_DATA_DIR": str(shared),
        **(env or {}),
    }
    command = [DBT, *args, "--project-dir", str(project_dir), "--log-path", str(workdir / "logs")]
    parses = args[0] != "deps"  # deps takes no target path and parses nothing
    if parses:
        command += ["--target-path", str(workdir / "target")]
    if vars:
        command += ["--vars", json.dumps(vars)]
    key = json.dumps([str(project_dir), vars or {}], sort_keys=True)
    parsed = workdir / "target" / "partial_parse.msgpack"
    if parses and key in _PARSED and not parsed.exists():
        parsed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_PARSED[key], parsed)
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    # returncode 1: a model or test failed after a good parse; 2: dbt itself failed (maybe while parsing)
    if parses and key not in _PARSED and parsed.exists() and proc.returncode in (0, 1):
        _PARSED[key] = process_temp_dir("hte_parsed_") / parsed.name
        shutil.copyfile(parsed, _PARSED[key])
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, db_path)


def run_deps(project_dir: Path, workdir: Path, *, unless_installed: bool = False) -> DbtResult | None:
    """`dbt deps` of a test project, one at a time across threads and processes; with `unless_installed`, only
    when dbt_hte is not linked there yet (returns None then).

    dbt deps clears dbt_packages and links dbt_hte anew; two at once on the same project (xdist workers, or the
    Spark thread and the main thread of the adapter tests) make the second one see the first one's link and fail
    with "resolves outside of the packages-install-path", and one run while another process builds the project
    pulls the package from under it. A file lock per project serialises them; the check is made under it."""
    digest = hashlib.sha1(str(project_dir.resolve()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"dbt_hte_deps_{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        installed = project_dir / "dbt_packages" / "dbt_hte"
        if unless_installed and installed.is_symlink() and installed.resolve() == REPO:
            return None
        return run_dbt(["deps"], workdir, project_dir=project_dir)


def ensure_deps(project_dir: Path, workdir: Path) -> None:
    """dbt_hte installed in `project_dir` (a link to this repository), running `dbt deps` only when it is not."""
    deps = run_deps(project_dir, workdir, unless_installed=True)
    assert deps is None or deps.ok, deps.output[-3000:]


# The Hillstrom data have no stated licence, so they are not in the repository: on a clone without the shared folder
# the tests on them skip with this one line instead of erroring; CI has the folder, and there they run.
def missing_data_reason(path: Path) -> str:
    return (
        f"Hillstrom data not present at {path} (not in the repository: put the shared folder beside the clone, "
        "or set HTE_SHARED_DATA_DIR to the folder holding hillstrom.csv)"
    )


HILLSTROM_MISSING = missing_data_reason(HILLSTROM_CSV)


def hillstrom_present() -> bool:
    return HILLSTROM_CSV.is_file()
