"""A user's dbt project, written into a test's own folder: installs dbt_hte by local path (as the README says) and
reads the clean fixture experiment from tables of a `raw` schema in its DuckDB file, through dbt sources and one
staging model per input (user_<input>). Tests choose how the vars spell the inputs, the flags, the hooks and the
configs the project gives the package's models (package_models: its `models: dbt_hte:` block)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from dbt_runner import REPO, DbtResult, run_dbt
from fixtures import INPUTS, valid_inputs

PLAIN_NAMES = {f"hte_{name}": f"user_{name}" for name in INPUTS}
ANALYSIS_VARS = {
    "hte_segment_columns": ["segment_a", "segment_b"],
    "hte_feature_columns": ["segment_a", "segment_b", "score"],
    "hte_metrics": {"conversion": {"kind": "binary"}, "revenue": {"kind": "continuous"}},
}
# the dbt warning (event I077) a package model's ref to a root-project model raises
ROOT_NODE_WARNING = "depends on the root project node"


class UserProject:
    def __init__(
        self,
        workdir: Path,
        *,
        inputs: dict[str, str] | None = None,
        flags: dict | None = None,
        on_run_end: list[str] | None = None,
        frames=None,
        package_models: dict | None = None,
    ):
        self.workdir = workdir
        self.dir = workdir / "project"
        (self.dir / "models").mkdir(parents=True)
        project = {
            "name": "hte_user",
            "version": "1.0.0",
            "config-version": 2,
            "profile": "dbt_hte",
            "model-paths": ["models"],
            "vars": {**PLAIN_NAMES, **(inputs or {}), **ANALYSIS_VARS},
            "models": {
                "hte_user": {"+materialized": "view"},
                **({"dbt_hte": package_models} if package_models else {}),
            },
        }
        if flags:
            project["flags"] = flags
        if on_run_end:
            project["on-run-end"] = on_run_end
        # JSON is YAML: no quoting surprises for the Jinja strings
        (self.dir / "dbt_project.yml").write_text(json.dumps(project, indent=2))
        (self.dir / "packages.yml").write_text(json.dumps({"packages": [{"local": str(REPO)}]}))
        sources = {
            "version": 2,
            "sources": [{"name": "raw", "schema": "raw", "tables": [{"name": name} for name in INPUTS]}],
        }
        (self.dir / "models" / "sources.yml").write_text(json.dumps(sources, indent=2))
        for name in INPUTS:
            (self.dir / "models" / f"user_{name}.sql").write_text(f"select * from {{{{ source('raw', '{name}') }}}}\n")
        self.frames = frames if frames is not None else valid_inputs()
        self.db_path = workdir / "hte.duckdb"  # run_dbt's DuckDB file for this workdir
        with duckdb.connect(str(self.db_path)) as con:
            con.execute("create schema raw")
            for name in INPUTS:
                con.register("frame", self.frames[name])
                con.execute(f"create table raw.{name} as select * from frame")
                con.unregister("frame")
        deps = run_dbt(["deps"], workdir / "deps", project_dir=self.dir)
        assert deps.ok, deps.output[-3000:]

    def dbt(self, *args: str, vars: dict | None = None, timeout: int = 900) -> DbtResult:
        return run_dbt(list(args), self.workdir, vars=vars, project_dir=self.dir, timeout=timeout)

    def manifest(self) -> dict:
        return json.loads((self.workdir / "target" / "manifest.json").read_text())

    def depends_on(self, model: str) -> list[str]:
        return self.manifest()["nodes"][f"model.dbt_hte.{model}"]["depends_on"]["nodes"]
