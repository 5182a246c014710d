"""The README's install line, `pip install -e "../dbt_hte[duckdb]"`, works as written in a fresh virtual
environment and brings a dbt that can run the package (dbt-core 1.11: 1.12 downloads a binary at install time)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from dbt_runner import REPO


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s#]+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def test_the_duckdb_extra_admits_the_pinned_versions_and_never_dbt_1_12():
    extra = [
        Requirement(r)
        for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["duckdb"]
    ]
    by_name = {r.name.lower(): r.specifier for r in extra}
    assert set(by_name) == {"dbt-core", "dbt-duckdb"}
    for requirements in ("requirements.txt", "requirements.lock.txt"):
        pins = _pins(REPO / requirements)
        for name, specifier in by_name.items():
            assert specifier.contains(pins[name]), f"{requirements} pins {name}=={pins[name]}, extra says {specifier}"
    assert not by_name["dbt-core"].contains("1.12.0") and not by_name["dbt-duckdb"].contains("1.12.0")


@pytest.mark.install
def test_the_readme_install_line_works_in_a_fresh_venv(tmp_path):
    # The user's dbt project sits beside the package checkout; the line is run there exactly as the README writes it
    # (pip's wheel cache makes this about a minute instead of a download of every wheel).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    project = tmp_path / "my_dbt_project"
    project.mkdir()
    package = os.path.relpath(REPO, project)
    line = f'pip install -e "{package}[duckdb]"'
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    install = subprocess.run(line, shell=True, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, (install.stdout + install.stderr)[-4000:]
    version = subprocess.run(
        [str(venv / "bin" / "dbt"), "--version"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0, version.stdout + version.stderr
    assert re.search(r"installed:\s+1\.11\.", version.stdout), version.stdout
    assert re.search(r"duckdb:\s+1\.11\.", version.stdout), version.stdout
    engine = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import hte_engine.report, hte_engine.io, dbt.adapters.duckdb; print(hte_engine.__file__)",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert engine.returncode == 0, engine.stderr
    assert engine.stdout.strip().startswith(str(REPO))  # editable: the checkout itself, as dbt_packages links it
