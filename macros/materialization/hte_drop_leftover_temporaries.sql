{#- Post-hook of the incremental Python model hte_targeting_history: dbt-duckdb builds an incremental Python model's
    new rows in a table named <model>__dbt_tmp<timestamp> that it never drops, so every scheduled run left one
    behind in the output schema. The name carries a timestamp, so the tables are found by prefix. Other adapters
    clean up after themselves: nothing to do there. -#}
{% macro hte_drop_leftover_temporaries(relation) %}
  {{ return(adapter.dispatch('hte_drop_leftover_temporaries', 'dbt_hte')(relation)) }}
{% endmacro %}

{% macro default__hte_drop_leftover_temporaries(relation) %}
  select 1
{% endmacro %}

{% macro duckdb__hte_drop_leftover_temporaries(relation) %}
  {%- if execute -%}
    {%- set found = run_query(
        "select table_name from information_schema.tables where table_schema = "
        ~ hte_string_literal(relation.schema) ~ " and table_catalog = " ~ hte_string_literal(relation.database)
        ~ " and starts_with(lower(table_name), " ~ hte_string_literal((relation.identifier ~ '__dbt_tmp') | lower) ~ ")") -%}
    {%- for row in found.rows -%}
      {%- do adapter.drop_relation(api.Relation.create(database=relation.database, schema=relation.schema,
                                                        identifier=row[0], type='table')) -%}
    {%- endfor -%}
  {%- endif -%}
  select 1
{% endmacro %}
