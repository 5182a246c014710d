{%- set input = hte_input_relation('hte_assignments') -%}
{%- set columns = hte_input_columns(input, 'hte_assignments',
      ['experiment_id', 'unit_id', 'arm', 'assigned_at']) -%}

{%- set typed -%}
select
    cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
    cast(unit_id as {{ dbt.type_string() }}) as unit_id,
    cast(arm as {{ dbt.type_string() }}) as arm,
    cast(assigned_at as {{ dbt.type_timestamp() }}) as assigned_at,
    {{ "cast(propensity as " ~ hte_double() ~ ")" if 'propensity' in columns else "cast(null as " ~ hte_double() ~ ")" }} as propensity,
    {{ "cast(cluster_id as " ~ dbt.type_string() ~ ")" if 'cluster_id' in columns else "cast(null as " ~ dbt.type_string() ~ ")" }} as cluster_id
from {{ input }}
{%- endset -%}

{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(null)'), count(*), 'unit ' || coalesce(unit_id, '(null)') from (" ~ typed ~ ") a
     where experiment_id is null or unit_id is null or arm is null or assigned_at is null
     group by coalesce(experiment_id, '(null)'), coalesce(unit_id, '(null)')",
    'hte_assignments', 'experiment_id, unit_id, arm, assigned_at', 'rows have a null key, arm or assigned_at',
    'Every assignment row needs experiment_id, unit_id, arm and assigned_at.') }}
{#- One pass over the units for both multiplicity rules; min/max instead of count(distinct) keeps it cheap. -#}
{%- set repeated_units = hte_validation_rows(
    "select case when arm_1 <> arm_2 then 'two_arms' else 'duplicate' end as problem, experiment_id, count(*),
        min('unit ' || unit_id || case when arm_1 <> arm_2 then ' in ' || arm_1 || ' and ' || arm_2 else '' end)
     from (
        select experiment_id, unit_id, min(arm) as arm_1, max(arm) as arm_2 from (" ~ typed ~ ") a
        group by experiment_id, unit_id having count(*) > 1) repeated
     group by case when arm_1 <> arm_2 then 'two_arms' else 'duplicate' end, experiment_id") -%}
{{ hte_raise_for_rows(repeated_units, 'hte_assignments', 'arm', 'units are assigned to more than one arm',
    'A unit must receive exactly one arm; drop the contaminated units upstream (and report them) or fix the assignment log.',
    problem_key='two_arms') }}
{{ hte_raise_for_rows(repeated_units, 'hte_assignments', 'unit_id', 'units have duplicate assignment rows',
    'Keep one row per experiment × unit (e.g. the first exposure).', problem_key='duplicate') }}
{{ hte_assert_no_rows(
    "select a.experiment_id, count(*), 'arm ' || min(a.arm) from (" ~ typed ~ ") a
     left join " ~ ref('stg_hte_experiments') ~ " e on a.experiment_id = e.experiment_id and a.arm = e.arm
     where e.arm is null group by a.experiment_id",
    'hte_assignments', 'arm', 'assignment rows use an arm not declared in hte_experiments',
    'Declare every arm (with is_control and expected_share) in the hte_experiments input.') }}
{%- if 'propensity' in columns %}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'unit ' || min(unit_id) from (" ~ typed ~ ") a
     where propensity is not null and not (propensity > 0 and propensity < 1) group by experiment_id",
    'hte_assignments', 'propensity', 'rows have a propensity outside (0, 1)',
    'propensity is the probability of the arm received; 0 or 1 means no overlap and no causal comparison.') }}
{%- endif %}

{{ typed }}
