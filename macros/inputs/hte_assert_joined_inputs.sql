{#- The input rules that need the join of the inputs, checked on int_hte_raw_cells (its post-hook), which makes
    that join anyway and counts per cell what each rule looks for: assigned units without a feature row, features
    observed after assignment, outcome rows of units with no assignment (the cells with a null arm) and units with
    more than one row for a metric. On clean input this reads a table of cells, not the inputs; only a rule that
    found something runs its query over the inputs for the counts and the example of the message.

    A failing check drops the relation before it raises: nothing computed on the bad input stays readable
    (inside DuckDB's and PostgreSQL's transaction the drop and the build are rolled back together, leaving what
    the previous successful run built; on Spark, which has no transactions, the drop is what removes it), and
    every model downstream, SQL and Python, is skipped. -#}
{% macro hte_assert_joined_inputs(relation) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {#- unit-level counts repeat on every metric row of a cell: read them from one metric -#}
  {%- set first_metric = hte_string_literal((hte_metrics().keys() | list)[0]) -%}
  {%- set found = hte_count_problems(
      "select
          sum(case when metric = " ~ first_metric ~ " then n_units_with_late_features else 0 end),
          sum(case when metric = " ~ first_metric ~ " then n_units_without_features else 0 end),
          sum(case when arm is null then n_rows else 0 end),
          sum(case when arm is not null and max_rows_per_unit > 1 then 1 else 0 end)
       from " ~ relation, 4) -%}
  {%- if found | sum == 0 -%}{{ return('') }}{%- endif -%}
  {%- do adapter.drop_relation(relation.incorporate(type='table')) -%}

  {%- set assignments = ref('stg_hte_assignments') -%}
  {%- set features = ref('stg_hte_unit_features') -%}
  {%- set outcomes = ref('stg_hte_outcomes') -%}
  {%- if found[0] > 0 or found[1] > 0 -%}
    {#- One join of assignments to features for both rules (missing row, features observed after assignment). -#}
    {%- set unmatched = hte_validation_rows(
        "select case when f.unit_id is null then 'missing' else 'late' end as problem, a.experiment_id, count(*),
            min('unit ' || a.unit_id || case when f.unit_id is null then '' else ' features_at '
                || cast(f.features_at as " ~ dbt.type_string() ~ ") || ' > assigned_at ' || cast(a.assigned_at as " ~ dbt.type_string() ~ ") end)
         from " ~ assignments ~ " a left join " ~ features ~ " f on " ~ hte_feature_join('f', 'a') ~ "
         where f.unit_id is null or f.features_at > a.assigned_at
         group by case when f.unit_id is null then 'missing' else 'late' end, a.experiment_id") -%}
    {{ hte_raise_for_rows(unmatched, 'hte_unit_features', 'features_at', 'units have features observed after their assignment (features_at > assigned_at): '
        ~ 'a post-treatment segment, which the treatment itself may have changed',
        'Segments must be defined on variables fixed before treatment: use a feature snapshot taken before assigned_at.',
        problem_key='late') }}
    {{ hte_raise_for_rows(unmatched, 'hte_unit_features', 'unit_id', 'assigned units have no feature row',
        'Every assigned unit needs its pre-treatment features (nulls inside a row are fine: they form a (missing) segment).',
        problem_key='missing') }}
  {%- endif -%}
  {%- if found[2] > 0 or found[3] > 0 -%}
    {#- One join + group-by over the outcome rows for both rules (duplicate unit × metric rows, unassigned units). -#}
    {%- set misplaced = hte_validation_rows(
        "select case when n_assigned = 0 then 'unassigned' else 'duplicate' end as problem, experiment_id, count(*),
            min('unit ' || unit_id || ', metric ' || metric)
         from (
            select o.experiment_id, o.unit_id, o.metric, count(*) as n_rows, count(a.unit_id) as n_assigned
            from " ~ outcomes ~ " o
            left join " ~ assignments ~ " a on o.experiment_id = a.experiment_id and o.unit_id = a.unit_id
            group by o.experiment_id, o.unit_id, o.metric) per_unit
         where n_assigned = 0 or n_rows > 1
         group by case when n_assigned = 0 then 'unassigned' else 'duplicate' end, experiment_id") -%}
    {{ hte_raise_for_rows(misplaced, 'hte_outcomes', 'unit_id', 'outcome rows belong to units with no assignment',
        'Outcomes must come from assigned units only; check the experiment_id and unit_id join keys.',
        problem_key='unassigned') }}
    {{ hte_raise_for_rows(misplaced, 'hte_outcomes', 'metric', 'unit × metric pairs have more than one outcome row',
        'Aggregate outcomes to one row per experiment × unit × metric upstream (e.g. sum of spend in the analysis window).',
        problem_key='duplicate') }}
  {%- endif -%}
  {#- a count above zero is never waved through, even if the query for the example found nothing -#}
  {{ exceptions.raise_compiler_error(
      "dbt_hte input error in hte_unit_features or hte_outcomes: " ~ relation ~ " counted " ~ found[0]
      ~ " units with features observed after assignment, " ~ found[1] ~ " assigned units without a feature row, "
      ~ found[2] ~ " outcome rows of unassigned units and " ~ found[3] ~ " cell rows with a unit that has more than "
      ~ "one outcome row for a metric, but the query for an example found none. Check the inputs against the input "
      ~ "contract (README) and report this as a dbt_hte bug.") }}
{% endmacro %}
