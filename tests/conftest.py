import fcntl
import json
import re
from functools import cache
from pathlib import Path

import pytest

from dbt_runner import DbtResult, run_dbt

# Test tiers are folders (README "Tests"), and each folder is also a marker so that `-m` selects across them:
#   tests/unit/         the engine and the references in this process: no dbt, no database server, no Spark
#   tests/build/        dbt builds on DuckDB: fixture projects, the demo, user projects
#   tests/integration/  other warehouses (PostgreSQL, Spark), the real Hillstrom data, the README's install line
# Helpers shared by the tiers (dbt_runner, fixtures, references, the fixture projects) stay in tests/.
TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "build", "integration")


def _tier(path: Path) -> str | None:
    parts = path.resolve().relative_to(TESTS).parts if path.resolve().is_relative_to(TESTS) else ()
    return parts[0] if len(parts) > 1 and parts[0] in TIERS else None


# The reliability suite is defined by its page: every `tests/<file>.py` or `tests/<file>.py::<test>` named there
# (tests/unit/test_reliability_index.py checks each name still matches a test).
RELIABILITY_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
RELIABILITY_NAME = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


@cache
def reliability_suite() -> frozenset[tuple[str, str | None]]:
    """(file relative to the repository, test function or None for the whole file) of each test the page names."""
    return (
        frozenset(RELIABILITY_NAME.findall(RELIABILITY_PAGE.read_text())) if RELIABILITY_PAGE.exists() else frozenset()
    )


def _in_reliability_suite(item) -> bool:
    path = Path(item.fspath).resolve().relative_to(RELIABILITY_PAGE.parents[1]).as_posix()
    name = getattr(item, "originalname", None) or item.name
    return (path, "") in reliability_suite() or (path, name) in reliability_suite()


# make test runs two pytest-xdist workers, each taking a whole file at a time in collection order (the Makefile
# passes --no-loadscope-reorder; by default xdist would hand out the files with the most tests first, which puts the
# long integration files, a few tests each, last). Files run tier by tier, longest first: integration (minutes
# each), build, then unit, whose many short files fill the end, so neither worker sits idle while the other
# finishes a long file (longest-processing-time-first scheduling). The order within a tier is the file order.
TIER_ORDER = {"integration": 0, "build": 1, "unit": 2}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: TIER_ORDER.get(_tier(Path(item.fspath)), len(TIER_ORDER)))
    for item in items:
        tier = _tier(Path(item.fspath))
        if tier:
            item.add_marker(tier)
        if _in_reliability_suite(item):
            item.add_marker("reliability")


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory, worker_id) -> DbtResult:
    """The bundled demo, built once per test session exactly as `make demo` builds it.

    Under pytest-xdist the workers share it: the first worker to need it builds it while holding a file lock,
    the others wait for it and read the same warehouse (a demo build costs a minute and a half of CPU). Tests only
    read it; one that runs dbt on it works on a copy (dbt_runner.private_copy)."""
    if worker_id == "master":
        result = run_dbt(["build"], tmp_path_factory.mktemp("demo_build"))
    else:
        shared = tmp_path_factory.getbasetemp().parent  # one folder for the session's workers
        record = shared / "demo_build.json"
        with open(shared / "demo_build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if record.exists():
                saved = json.loads(record.read_text())
                result = DbtResult(saved["returncode"], saved["output"], Path(saved["db_path"]))
            else:
                result = run_dbt(["build"], shared / "demo_build")
                record.write_text(
                    json.dumps(
                        {"returncode": result.returncode, "output": result.output, "db_path": str(result.db_path)}
                    )
                )
    assert result.ok, result.output[-6000:]
    return result
