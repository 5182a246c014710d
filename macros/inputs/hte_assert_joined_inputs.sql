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

  {%- do hte_joined_input_problems(ref('stg_hte_assignments'), ref('stg_hte_unit_features'), ref('stg_hte_outcomes'), found) -%}
  {#- a count above zero is never waved through, even if the query for the example found nothing -#}
  {{ exceptions.raise_compiler_error(
      "dbt_hte input error in hte_unit_features or hte_outcomes: " ~ relation ~ " counted " ~ found[0]
      ~ " units with features observed after assignment, " ~ found[1] ~ " assigned units without a feature row, "
      ~ found[2] ~ " outcome rows of unassigned units and " ~ found[3] ~ " cell rows with a unit that has more than "
      ~ "one outcome row for a metric, but the query for an example found none. Check the inputs against the input "
      ~ "contract (README) and report this as a dbt_hte bug.") }}
{% endmacro %}
