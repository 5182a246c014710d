{{ config(materialized='table') }}
{#- The experiments var hte_on_invalid_experiment: skip leaves out, one row per experiment × input rule it breaks.
    Every staging model selects its input without these experiments (macro hte_without_skipped_experiments), so
    they are in no table downstream; hte_checks turns each row into an invalid_experiment_skipped alert.

    The rules are the staging models' own (macros hte_staged_*, hte_joined_input_problems), run here on the typed
    inputs in collect mode: one place for each rule, whichever mode runs it. Rows that name no single experiment
    (a null experiment_id, features shared by every experiment) still stop the build. With the default `error`
    this table is empty and no rule runs here: the staging models stop the build on the first broken rule. -#}
{#- The four inputs are this model's dependencies whatever the mode: dbt records refs while it parses, outside
    the branch below (which runs only at execution). -#}
{%- for name in ['hte_experiments', 'hte_assignments', 'hte_unit_features', 'hte_outcomes'] -%}
  {%- do hte_input_relation(name) -%}
{%- endfor -%}
{%- set problems = [] -%}
{%- if execute and hte_config_on_invalid_experiment() == 'skip' -%}
  {%- set experiments = "(" ~ hte_staged_experiments(collect=problems) ~ ")" -%}
  {%- set assignments = "(" ~ hte_staged_assignments(experiments, collect=problems) ~ ")" -%}
  {%- set features = "(" ~ hte_staged_unit_features(collect=problems) ~ ")" -%}
  {%- set outcomes = "(" ~ hte_staged_outcomes(collect=problems) ~ ")" -%}
  {%- do hte_joined_input_problems(assignments, features, outcomes, [1, 1, 1, 1], collect=problems) -%}
  {%- for p in problems -%}
    {%- do log("dbt_hte: experiment '" ~ p.experiment_id ~ "' is skipped (var hte_on_invalid_experiment: skip): "
               ~ p.input_name ~ ", column '" ~ p.column_name ~ "': " ~ p.n_bad ~ " " ~ p.problem
               ~ " (e.g. " ~ p.example ~ ").", info=true) -%}
  {%- endfor -%}
{%- endif -%}
{%- set text = dbt.type_string() -%}

{%- for p in problems %}
{{ 'union all' if not loop.first }}
select
    cast({{ hte_string_literal(p.experiment_id) }} as {{ text }}) as experiment_id,
    cast({{ hte_string_literal(p.input_name) }} as {{ text }}) as input_name,
    cast({{ hte_string_literal(p.column_name) }} as {{ text }}) as column_name,
    cast({{ p.n_bad }} as {{ dbt.type_bigint() }}) as n_bad,
    cast({{ hte_string_literal(p.problem) }} as {{ text }}) as problem,
    cast({{ hte_string_literal(p.example) }} as {{ text }}) as example,
    cast({{ hte_string_literal(p.fix) }} as {{ text }}) as fix
{%- else %}
select
    cast(null as {{ text }}) as experiment_id,
    cast(null as {{ text }}) as input_name,
    cast(null as {{ text }}) as column_name,
    cast(null as {{ dbt.type_bigint() }}) as n_bad,
    cast(null as {{ text }}) as problem,
    cast(null as {{ text }}) as example,
    cast(null as {{ text }}) as fix
where 1 = 0
{%- endfor %}
