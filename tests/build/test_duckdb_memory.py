"""The on-run-start hook that leaves room in the dbt process for the Python models beside DuckDB."""

import re

from dbt_runner import run_dbt
from hte_engine.io import physical_memory_bytes


def test_duckdbs_default_memory_limit_is_lowered_to_a_quarter_of_the_machine_before_any_model_runs(tmp_path):
    result = run_dbt(["run-operation", "hte_bound_duckdb_memory"], tmp_path / "default")
    assert result.ok, result.output[-2000:]
    lowered = re.search(
        r"memory_limit ([\d.]+) GiB \(its default, 80% of the machine\) lowered to ([\d.]+) GiB", result.output
    )
    assert lowered, result.output[-2000:]
    quarter = physical_memory_bytes() / 4 / 2**30
    assert abs(float(lowered.group(2)) - quarter) < 0.15 * quarter + 0.1


def test_a_memory_limit_the_profile_chose_is_kept(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "dbt_hte:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n      path: hte.duckdb\n"
        "      threads: 1\n      settings:\n        memory_limit: '3GB'\n"
    )
    workdir = tmp_path / "chosen"
    result = run_dbt(["run-operation", "hte_bound_duckdb_memory"], workdir, env={"DBT_PROFILES_DIR": str(profiles)})
    assert result.ok, result.output[-2000:]
    assert "lowered" not in result.output
    log = (workdir / "logs" / "dbt.log").read_text()
    assert re.search(r"memory_limit 2\.7 GiB \(chosen by the profile\) kept", log), log[-2000:]
