{#- The assignments input (var hte_assignments) typed, after its rules; stg_hte_assignments is this.
    `experiments`: the typed experiments the declared arms come from. Rules raise, or append to `collect` in
    skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_assignments(experiments, collect=none) %}
{%- set typed = hte_typed_input('hte_assignments', {
      'experiment_id': dbt.type_string(), 'unit_id': dbt.type_string(), 'arm': dbt.type_string(),
      'assigned_at': dbt.type_timestamp(), 'propensity': hte_double(), 'cluster_id': dbt.type_string()},
    optional=['propensity', 'cluster_id']).sql -%}
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{%- set null_key = "a.experiment_id is null or a.unit_id is null or a.arm is null or a.assigned_at is null" -%}
{%- set bad_propensity = "a.propensity is not null and not (a.propensity > 0 and a.propensity < 1)" -%}

{#- One pass counts the rules on rows (the experiments input is a handful of rows, joined for free), one
    group-by the units assigned more than once; the queries that find an example run only for a rule that found
    some rows. -#}
{%- set found = hte_count_problems(hte_counts_with_repeated_keys(
    {'n_null_key': null_key, 'n_undeclared_arm': 'e.arm is null', 'n_bad_propensity': bad_propensity},
    "(" ~ typed ~ ") a left join " ~ experiments ~ " e on a.experiment_id = e.experiment_id and a.arm = e.arm",
    typed), 4) -%}

{{ hte_explain_problem(found[0],
    "select coalesce(experiment_id, '(null)'), count(*), 'unit ' || coalesce(unit_id, '(null)') from (" ~ typed ~ ") a
     where " ~ null_key ~ "
     group by coalesce(experiment_id, '(null)'), coalesce(unit_id, '(null)')",
    'hte_assignments', 'experiment_id, unit_id, arm, assigned_at', 'rows have a null key, arm or assigned_at',
    'Every assignment row needs experiment_id, unit_id, arm and assigned_at.', collect=collect) }}
{#- One pass over the units for both multiplicity rules; min/max instead of count(distinct) keeps it cheap. -#}
{%- set repeated_units = hte_validation_rows(
    "select case when arm_1 <> arm_2 then 'two_arms' else 'duplicate' end as problem, experiment_id, count(*),
        min('unit ' || unit_id || case when arm_1 <> arm_2 then ' in ' || arm_1 || ' and ' || arm_2 else '' end)
     from (
        select experiment_id, unit_id, min(arm) as arm_1, max(arm) as arm_2 from (" ~ typed ~ ") a
        group by experiment_id, unit_id having count(*) > 1) repeated
     group by case when arm_1 <> arm_2 then 'two_arms' else 'duplicate' end, experiment_id") if found[3] > 0 else [] -%}
{{ hte_raise_for_rows(repeated_units, 'hte_assignments', 'arm', 'units are assigned to more than one arm',
    'A unit must receive exactly one arm; drop the contaminated units upstream (and report them) or fix the assignment log.',
    problem_key='two_arms', collect=collect) }}
{{ hte_raise_for_rows(repeated_units, 'hte_assignments', 'unit_id', 'units have duplicate assignment rows',
    'Keep one row per experiment × unit (e.g. the first exposure).', problem_key='duplicate', collect=collect) }}
{{ hte_explain_problem(found[1],
    "select a.experiment_id, count(*), 'arm ' || min(a.arm) from (" ~ typed ~ ") a
     left join " ~ experiments ~ " e on a.experiment_id = e.experiment_id and a.arm = e.arm
     where e.arm is null group by a.experiment_id",
    'hte_assignments', 'arm', 'assignment rows use an arm not declared in hte_experiments',
    'Declare every arm (with is_control and expected_share) in the hte_experiments input.', collect=collect) }}
{{ hte_explain_problem(found[2],
    "select a.experiment_id, count(*), 'unit ' || min(a.unit_id) from (" ~ typed ~ ") a
     where " ~ bad_propensity ~ " group by a.experiment_id",
    'hte_assignments', 'propensity', 'rows have a propensity outside (0, 1)',
    'propensity is the probability of the arm received; 0 or 1 means no overlap and no causal comparison.', collect=collect) }}
{{ return(typed) }}
{% endmacro %}
