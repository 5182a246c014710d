{#- The unit features input (var hte_unit_features) typed, after its rules; stg_hte_unit_features is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_unit_features(collect=none) %}
{#- experiment_id is optional: without it, each unit's features apply to every experiment. -#}
{%- set staged = hte_typed_input('hte_unit_features', {
      'experiment_id': dbt.type_string(), 'unit_id': dbt.type_string(), 'features_at': dbt.type_timestamp()},
    optional=['experiment_id'], keep_other_columns=true) -%}
{%- set input = staged.relation -%}
{%- set columns = staged.columns -%}
{%- set has_experiment = 'experiment_id' in columns -%}

{%- if execute -%}
  {%- for name in hte_segment_columns() + var('hte_feature_columns') if name | lower not in columns -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in hte_unit_features (" ~ input ~ "): column '" ~ name ~ "' is listed in var "
        ~ ("'hte_segment_columns'" if name in hte_segment_columns() else "'hte_feature_columns'")
        ~ " but the features relation has no such column. Its columns are: " ~ columns | join(', ')
        ~ ". Add the column or remove it from the var.") }}
  {%- endfor -%}
{%- endif -%}

{%- set typed = staged.sql -%}
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{%- set null_key = "unit_id is null or features_at is null" -%}
{%- set null_experiment = "experiment_id is null" if has_experiment else "1 = 0" -%}

{#- One pass counts the null rules, one group-by the units with two feature rows; the queries that find an
    example run only for a rule that found some rows. Assigned units without a feature row and features observed
    after assignment need the join to the assignments, which int_hte_raw_cells makes anyway: it counts them there
    (macro hte_assert_joined_inputs). -#}
{%- set found = hte_count_problems(hte_counts_with_repeated_keys(
    {'n_null_key': null_key, 'n_null_experiment': null_experiment}, "(" ~ typed ~ ") f", typed), 3) -%}

{{ hte_explain_problem(found[0], hte_null_key_check(typed, null_key, no_experiment='(all experiments)'),
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
