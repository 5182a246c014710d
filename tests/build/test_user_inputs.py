"""How a user's project names its inputs (macros/inputs/hte_input_relation.sql): every supported spelling keeps
dbt's lineage and parses without dbt's package-to-root-project warning; anything else stops with the spellings."""

from __future__ import annotations

from user_project import ROOT_NODE_WARNING, UserProject


def test_plain_names_resolve_in_the_users_project_without_a_warning(tmp_path):
    project = UserProject(tmp_path)  # no flags: exactly what a new user writes
    result = project.dbt("parse")
    assert result.ok, result.output[-4000:]
    assert ROOT_NODE_WARNING not in result.output, result.output[-4000:]
    assert "model.hte_user.user_assignments" in project.depends_on("stg_hte_assignments")
    assert "model.hte_user.user_unit_features" in project.depends_on("stg_hte_unit_features")
    # int_hte_units reads the features' columns too: its lineage has the input as well
    assert "model.hte_user.user_unit_features" in project.depends_on("int_hte_units")


def test_jinja_source_and_ref_forms_build_with_lineage(tmp_path):
    project = UserProject(
        tmp_path,
        inputs={
            "hte_assignments": "{{ source('raw', 'assignments') }}",
            "hte_outcomes": "{{ ref('user_outcomes') }}",
            "hte_unit_features": "{{ ref('hte_user', 'user_unit_features') }}",
            "hte_experiments": "source:raw.experiments",
        },
    )
    result = project.dbt("build", "--select", "+hte_segment_lifts")
    assert result.ok, result.output[-6000:]
    assert "source.hte_user.raw.assignments" in project.depends_on("stg_hte_assignments")
    assert "model.hte_user.user_outcomes" in project.depends_on("stg_hte_outcomes")
    assert "model.hte_user.user_unit_features" in project.depends_on("stg_hte_unit_features")
    assert "source.hte_user.raw.experiments" in project.depends_on("stg_hte_experiments")
    # the numbers come from the user's rows: the ATE's arm sizes are the assignment counts
    lifts = result.table("hte_segment_lifts")
    overall = lifts[(lifts.dimension == "overall") & (lifts.metric == "conversion")].iloc[0]
    arms = project.frames["assignments"].arm.value_counts()
    assert (overall.n_treatment, overall.n_control) == (arms["treatment"], arms["control"])


def test_the_one_argument_ref_form_warns_unless_the_documented_flag_is_set(tmp_path):
    # "{{ ref('x') }}" is dbt's own ref running inside a package model: dbt warns about it (event I077) unless
    # the project sets the flag the README puts beside the vars. The plain name never needs it.
    inputs = {"hte_outcomes": "{{ ref('user_outcomes') }}"}
    warned = UserProject(tmp_path / "without", inputs=inputs).dbt("parse")
    assert warned.ok, warned.output[-4000:]
    assert ROOT_NODE_WARNING in warned.output
    quiet = UserProject(
        tmp_path / "with", inputs=inputs, flags={"require_ref_searches_node_package_before_root": True}
    ).dbt("parse")
    assert quiet.ok, quiet.output[-4000:]
    assert ROOT_NODE_WARNING not in quiet.output


def test_a_table_name_written_out_is_rejected_with_the_spellings(tmp_path):
    result = UserProject(tmp_path, inputs={"hte_assignments": "raw.assignments"}).dbt("parse")
    assert not result.ok
    assert "dbt_hte configuration error: var 'hte_assignments' is 'raw.assignments'" in result.output
    assert "'source:<source_name>.<table_name>'" in result.output
    assert "{{ source('<source_name>', '<table_name>') }}" in result.output


def test_a_non_string_input_var_is_rejected_with_the_spellings(tmp_path):
    result = UserProject(tmp_path, inputs={"hte_outcomes": ["user_outcomes"]}).dbt("parse")
    assert not result.ok
    assert "dbt_hte configuration error: var 'hte_outcomes' must be a model or seed of your project" in result.output
    assert "got ['user_outcomes']" in result.output


def test_a_malformed_source_spelling_is_rejected(tmp_path):
    result = UserProject(tmp_path, inputs={"hte_experiments": "source:raw"}).dbt("parse")
    assert not result.ok
    assert "a source must be written 'source:<source_name>.<table_name>'" in result.output


def test_a_plain_name_missing_from_the_users_project_names_the_project(tmp_path):
    result = UserProject(tmp_path, inputs={"hte_outcomes": "user_outcome"}).dbt("parse")
    assert not result.ok
    assert "user_outcome" in result.output and "hte_user" in result.output, result.output[-3000:]
