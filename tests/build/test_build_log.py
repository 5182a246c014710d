"""Never half-updated without saying so (issue 13): a build that fails part-way leaves the failed model's
downstream tables from the previous run (dbt skips them), and every reader says so at the top.

One warehouse, three nightly runs of the clean fixture: a good run; a run whose learners fail (an unknown learner
in hte_uplift_learners: hte_cate_scores errors, every model after it is skipped, the SQL marts are rebuilt); a good
run again. dbt_hte_build_log records each model of each run (macros/monitoring/hte_record_build.sql); after the
failed run the report, the summary CLI and the Parquet export name the outputs that are older than the rest, and
after the next good run none of them warns.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from dbt_runner import ensure_deps, run_dbt
from fixtures import FIXTURE_PROJECT, fixture_env, valid_inputs, write_inputs
from hte_engine.report import write_report
from hte_engine.report.freshness import BUILD_LOG, stale_outputs


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("build_log")
    data_dir = write_inputs(workdir / "inputs", valid_inputs())
    ensure_deps(FIXTURE_PROJECT, workdir / "deps")
    out = {}
    for name, vars in (("good", None), ("failed", {"hte_uplift_learners": ["constant", "bogus"]}), ("again", None)):
        result = run_dbt(["build"], workdir, vars=vars, project_dir=FIXTURE_PROJECT, env=fixture_env(data_dir))
        copy = workdir / f"after_{name}.duckdb"
        shutil.copy(result.db_path, copy)
        out[name] = (result, copy)
    return out


def _log(database) -> pd.DataFrame:
    """The log as that night left it (the copy: the warehouse file itself has moved on to the next night)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"select * from {BUILD_LOG}").df()


def _summary(database) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "hte_engine.report.summary", str(database)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_each_run_logs_every_dbt_hte_model_once(nights):
    good, failed, again = (nights[name][0] for name in ("good", "failed", "again"))
    assert good.ok and not failed.ok and again.ok, failed.output[-3000:]
    log = _log(nights["again"][1])
    assert log["invocation_id"].nunique() == 3
    per_run = log.groupby("invocation_id")["model"].agg(["size", "nunique"])
    assert (per_run["size"] == per_run["nunique"]).all()
    assert {"hte_segment_lifts", "hte_cate_scores", "hte_targeting_units"} <= set(log["model"])
    assert not log["model"].str.startswith("fixture_").any()  # the user's own models are not dbt_hte's


def test_the_failed_run_is_logged_with_what_it_skipped(nights):
    log = _log(nights["failed"][1])
    latest = log[log["run_started_at"] == log["run_started_at"].max()].set_index("model")["status"]
    assert latest["hte_cate_scores"] == "error"
    assert latest["hte_learner_evaluation"] == "skipped" and latest["hte_targeting_units"] == "skipped"
    assert latest["hte_segment_lifts"] == "success"  # the SQL marts do not depend on the learners


def test_readers_say_which_outputs_are_older_after_the_failed_run(nights, tmp_path):
    database = nights["failed"][1]
    message = stale_outputs(_log(database))
    assert message and "failed at hte_cate_scores" in message and "hte_targeting_units (skipped, last built" in message
    assert "Outputs from different runs" in _summary(database).splitlines()[0]
    page = write_report(database, tmp_path / "report.html").read_text()
    assert 'class="stale-outputs"' in page and "failed at hte_cate_scores" in page
    assert page.index("stale-outputs") < page.index('class="experiment"')  # at the top


def test_the_export_warns_after_the_failed_run_and_not_after_a_good_one(nights, tmp_path):
    for name, warns in (("failed", True), ("again", False)):
        workdir = tmp_path / name
        workdir.mkdir()
        shutil.copy(nights[name][1], workdir / "hte.duckdb")
        export = run_dbt(
            ["run-operation", "hte_export_parquet", "--args", f"{{directory: '{tmp_path / 'out'}'}}"],
            workdir,
            project_dir=FIXTURE_PROJECT,
            env=fixture_env(workdir),
        )
        assert export.ok, export.output[-3000:]
        assert ("outputs from different runs" in export.output) == warns, export.output[-3000:]


def test_after_a_good_run_nothing_warns(nights, tmp_path):
    database = nights["again"][1]
    assert stale_outputs(_log(database)) is None
    assert "WARNING" not in _summary(database)
    assert "stale-outputs" not in write_report(database, tmp_path / "report.html").read_text()


def test_no_log_means_no_warning():
    """A warehouse built before the hook existed, or on an adapter that does not write the log."""
    assert stale_outputs(None) is None
    assert stale_outputs(pd.DataFrame(columns=["invocation_id", "run_started_at", "model", "status"])) is None
