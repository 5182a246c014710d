{#- The input rules that need the join of the inputs (assigned units without a feature row, features observed
    after assignment, outcome rows of units with no assignment, more than one outcome row per unit × metric), for
    the rules `found` counted (four counts in that order; hte_assert_joined_inputs counts them on the cells). The
    three relations are the staged inputs, or their typed selects in parentheses (model hte_skipped_experiments).
    Raises on the first rule broken, or with `collect` (skip mode) appends each offending experiment to it. -#}
{% macro hte_joined_input_problems(assignments, features, outcomes, found, collect=none) %}
  {%- set checks = [] -%}
  {%- if found[0] > 0 or found[1] > 0 -%}
    {#- One join of assignments to features for both rules (missing row, features observed after assignment). -#}
    {%- do checks.append(
        "select case when f.unit_id is null then 'missing' else 'late' end as problem, a.experiment_id, count(*),
            min('unit ' || a.unit_id || case when f.unit_id is null then '' else ' features_at '
                || cast(f.features_at as " ~ dbt.type_string() ~ ") || ' > assigned_at ' || cast(a.assigned_at as " ~ dbt.type_string() ~ ") end)
         from " ~ assignments ~ " a left join " ~ features ~ " f on " ~ hte_feature_join('f', 'a') ~ "
         where f.unit_id is null or f.features_at > a.assigned_at
         group by case when f.unit_id is null then 'missing' else 'late' end, a.experiment_id") -%}
  {%- endif -%}
  {%- if found[2] > 0 or found[3] > 0 -%}
    {#- One join + group-by over the outcome rows for both rules (duplicate unit × metric rows, unassigned units). -#}
    {%- do checks.append(
        "select case when n_assigned = 0 then 'unassigned' else 'duplicate' end as problem, experiment_id, count(*),
            min('unit ' || unit_id || ', metric ' || metric)
         from (
            select o.experiment_id, o.unit_id, o.metric, count(*) as n_rows, count(a.unit_id) as n_assigned
            from " ~ outcomes ~ " o
            left join " ~ assignments ~ " a on o.experiment_id = a.experiment_id and o.unit_id = a.unit_id
            group by o.experiment_id, o.unit_id, o.metric) per_unit
         where n_assigned = 0 or n_rows > 1
         group by case when n_assigned = 0 then 'unassigned' else 'duplicate' end, experiment_id") -%}
  {%- endif -%}
  {%- set rows = hte_validation_rows(checks | join(' union all ')) if checks else [] -%}
  {#- Each rule, in the order they are reported: its problem key in the rows above, the input and column it is
      about, the problem and the fix. -#}
  {%- for problem_key, input_name, column, problem, fix in [
      ('late', 'hte_unit_features', 'features_at',
       'units have features observed after their assignment (features_at > assigned_at): a post-treatment segment, '
       ~ 'which the treatment itself may have changed',
       'Segments must be defined on variables fixed before treatment: use a feature snapshot taken before assigned_at.'),
      ('missing', 'hte_unit_features', 'unit_id', 'assigned units have no feature row',
       'Every assigned unit needs its pre-treatment features (nulls inside a row are fine: they form a (missing) segment).'),
      ('unassigned', 'hte_outcomes', 'unit_id', 'outcome rows belong to units with no assignment',
       'Outcomes must come from assigned units only; check the experiment_id and unit_id join keys.'),
      ('duplicate', 'hte_outcomes', 'metric', 'unit × metric pairs have more than one outcome row',
       'Aggregate outcomes to one row per experiment × unit × metric upstream (e.g. sum of spend in the analysis window).'),
  ] -%}
    {%- do hte_raise_for_rows(rows, input_name, column, problem, fix, problem_key=problem_key, collect=collect) -%}
  {%- endfor -%}
  {{ return('') }}
{% endmacro %}
