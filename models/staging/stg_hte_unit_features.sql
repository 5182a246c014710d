{%- set input = hte_input_relation('hte_unit_features') -%}
{%- set columns = hte_input_columns(input, 'hte_unit_features', ['unit_id', 'features_at']) -%}
{%- set has_experiment = 'experiment_id' in columns -%}
{%- set key_columns = ['experiment_id', 'unit_id', 'features_at'] -%}

{%- if execute -%}
  {%- for name in hte_segment_columns() + var('hte_feature_columns', []) if name | lower not in columns -%}
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

{%- set assignments = ref('stg_hte_assignments') -%}
{%- set join_condition = hte_feature_join('f', 'a') -%}

{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") f
     where unit_id is null or features_at is null group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id, features_at', 'rows have a null unit_id or features_at',
    'features_at (when the features were observed) is what proves they are pre-treatment; it cannot be null.') }}
{%- if has_experiment %}
{{ hte_assert_no_rows(
    "select '(null)', count(*), 'unit ' || min(unit_id) from (" ~ typed ~ ") f where experiment_id is null having count(*) > 0",
    'hte_unit_features', 'experiment_id', 'feature rows have a null experiment_id',
    'Fill experiment_id on every row, or drop the column so that each unit\'s features apply to every experiment.') }}
{%- endif %}
{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || min(unit_id) from (
        select experiment_id, unit_id from (" ~ typed ~ ") f group by experiment_id, unit_id having count(*) > 1) d
     group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id', 'units have more than one feature row',
    'Keep one feature row per ' ~ ('experiment × unit' if has_experiment else 'unit') ~ ': the snapshot taken before assignment.') }}
{#- One join of assignments to features for both rules (missing row, features observed after assignment). -#}
{%- set unmatched = hte_validation_rows(
    "select case when f.unit_id is null then 'missing' else 'late' end as problem, a.experiment_id, count(*),
        min('unit ' || a.unit_id || case when f.unit_id is null then '' else ' features_at '
            || cast(f.features_at as " ~ dbt.type_string() ~ ") || ' > assigned_at ' || cast(a.assigned_at as " ~ dbt.type_string() ~ ") end)
     from " ~ assignments ~ " a left join (" ~ typed ~ ") f on " ~ join_condition ~ "
     where f.unit_id is null or f.features_at > a.assigned_at
     group by case when f.unit_id is null then 'missing' else 'late' end, a.experiment_id") -%}
{{ hte_raise_for_rows(unmatched, 'hte_unit_features', 'features_at', 'units have features observed after their assignment (features_at > assigned_at): '
    ~ 'a post-treatment segment, which the treatment itself may have changed',
    'Segments must be defined on variables fixed before treatment: use a feature snapshot taken before assigned_at.',
    problem_key='late') }}
{{ hte_raise_for_rows(unmatched, 'hte_unit_features', 'unit_id', 'assigned units have no feature row',
    'Every assigned unit needs its pre-treatment features (nulls inside a row are fine: they form a (missing) segment).',
    problem_key='missing') }}

{{ typed }}
