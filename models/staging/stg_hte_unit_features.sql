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
{%- set join_condition = "f.unit_id = a.unit_id" ~ (" and f.experiment_id = a.experiment_id" if has_experiment else "") -%}

{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") f
     where unit_id is null or features_at is null group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id, features_at', 'rows have a null unit_id or features_at',
    'features_at (when the features were observed) is what proves they are pre-treatment; it cannot be null.') }}
{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(all experiments)'), count(*), 'unit ' || min(unit_id) from (
        select experiment_id, unit_id from (" ~ typed ~ ") f group by experiment_id, unit_id having count(*) > 1) d
     group by coalesce(experiment_id, '(all experiments)')",
    'hte_unit_features', 'unit_id', 'units have more than one feature row',
    'Keep one feature row per ' ~ ('experiment × unit' if has_experiment else 'unit') ~ ': the snapshot taken before assignment.') }}
{{ hte_assert_no_rows(
    "select a.experiment_id, count(*), 'unit ' || min(a.unit_id) || ' features_at ' || cast(min(f.features_at) as "
    ~ dbt.type_string() ~ ") from (" ~ typed ~ ") f join " ~ assignments ~ " a on " ~ join_condition ~ "
     where f.features_at > a.assigned_at group by a.experiment_id",
    'hte_unit_features', 'features_at', 'units have features observed after their assignment (features_at > assigned_at): '
    ~ 'a post-treatment segment, which the treatment itself may have changed',
    'Segments must be defined on variables fixed before treatment: use a feature snapshot taken before assigned_at.') }}
{{ hte_assert_no_rows(
    "select a.experiment_id, count(*), 'unit ' || min(a.unit_id) from " ~ assignments ~ " a
     left join (" ~ typed ~ ") f on " ~ join_condition ~ " where f.unit_id is null group by a.experiment_id",
    'hte_unit_features', 'unit_id', 'assigned units have no feature row',
    'Every assigned unit needs its pre-treatment features (nulls inside a row are fine: they form a (missing) segment).') }}

{{ typed }}
