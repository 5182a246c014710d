{#- The unit features input (var hte_unit_features) typed, after its rules; stg_hte_unit_features is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_unit_features(collect=none) %}
{%- set input = hte_input_relation('hte_unit_features') -%}
{%- set columns = hte_input_columns(input, 'hte_unit_features', ['unit_id', 'features_at']) -%}
{%- set has_experiment = 'experiment_id' in columns -%}
{%- set key_columns = ['experiment_id', 'unit_id', 'features_at'] -%}

{%- if execute -%}
  {%- for name in hte_segment_columns() + var('hte_feature_columns') if name | lower not in columns -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in hte_unit_features (" ~ input ~ "): column '" ~ name ~ "' is listed in var "
        ~ ("'hte_segment_columns'" if name in hte_segment_columns() else "'hte_feature_columns'")
        ~ " but the features relation has no such column. Its columns are: " ~ columns | join(', ')
        ~ ". Add the column or remove it from the var.") }}
  {%- endfor -%}
{%- endif -%}

{%- set typed -%}
select
    {{ "cast(experiment_id as " ~ dbt.type_string() ~ ")" if has_experiment else "cast(null as " ~ dbt.type_string() ~ ")" }} as experiment_id,
    cast(unit_id as {{ dbt.type_string() }}) as unit_id,
    cast(features_at as {{ dbt.type_timestamp() }}) as features_at
    {%- for column in (adapter.get_columns_in_relation(input) if execute else []) if column.name | lower not in key_columns %},
    {{ adapter.quote(column.name) }}
    {%- endfor %}
from {{ input }}
{%- endset -%}
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{%- set null_key = "unit_id is null or features_at is null" -%}
{%- set null_experiment = "experiment_id is null" if has_experiment else "1 = 0" -%}

{#- One pass counts the null rules, one group-by the units with two feature rows; the queries that find an
    example run only for a rule that found some rows. Assigned units without a feature row and features observed
    after assignment need the join to the assignments, which int_hte_raw_cells makes anyway: it counts them there
    (macro hte_assert_joined_inputs). -#}
{%- set found = hte_count_problems(
    "select rows_found.*, units_found.n_repeated from (
        select
            sum(case when " ~ null_key ~ " then 1 else 0 end) as n_null_key,
            sum(case when " ~ null_experiment ~ " then 1 else 0 end) as n_null_experiment
        from (" ~ typed ~ ") f
     ) rows_found
     cross join (
        select count(*) as n_repeated from (
            select unit_id from (" ~ typed ~ ") f group by experiment_id, unit_id having count(*) > 1) repeated
     ) units_found", 3) -%}

{{ hte_explain_problem(found[0],
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") f
     where " ~ null_key ~ " group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id, features_at', 'rows have a null unit_id or features_at',
    'features_at (when the features were observed) is what proves they are pre-treatment; it cannot be null.', collect=collect) }}
{{ hte_explain_problem(found[1],
    "select '(null)', count(*), 'unit ' || min(unit_id) from (" ~ typed ~ ") f where " ~ null_experiment ~ " having count(*) > 0",
    'hte_unit_features', 'experiment_id', 'feature rows have a null experiment_id',
    'Fill experiment_id on every row, or drop the column so that each unit\'s features apply to every experiment.', collect=collect) }}
{{ hte_explain_problem(found[2],
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || min(unit_id) from (
        select experiment_id, unit_id from (" ~ typed ~ ") f group by experiment_id, unit_id having count(*) > 1) d
     group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id', 'units have more than one feature row',
    'Keep one feature row per ' ~ ('experiment × unit' if has_experiment else 'unit') ~ ': the snapshot taken before assignment.', collect=collect) }}
{{ return(typed) }}
{% endmacro %}
