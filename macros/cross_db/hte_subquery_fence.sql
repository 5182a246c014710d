{#- A clause that keeps the planner from merging a derived table into the query around it, for derived tables
    that exist to compute a long expression once (hte_normal_quantile). PostgreSQL pulls such subqueries up and
    substitutes the expression at every use: hte_normal_quantile then evaluates some 5,000 copies of p per row
    (30 ms a row instead of 1 ms). "offset 0" is PostgreSQL's documented optimization fence; other engines either
    keep the projection (Spark declines to collapse projections that would repeat non-trivial expressions) or
    reuse it, and BigQuery would reject a bare offset, so the default is empty. -#}
{% macro hte_subquery_fence() %}{{ return(adapter.dispatch('hte_subquery_fence', 'dbt_hte')()) }}{% endmacro %}

{% macro default__hte_subquery_fence() %}{% endmacro %}

{#- dbt-redshift dispatches to postgres__ as well; Redshift accepts offset 0. -#}
{% macro postgres__hte_subquery_fence() %}offset 0{% endmacro %}
