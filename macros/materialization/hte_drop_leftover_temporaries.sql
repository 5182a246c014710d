{#- Post-hook of the incremental Python model hte_targeting_history: dbt-duckdb builds an incremental Python model's
    new rows in a table named <model>__dbt_tmp<timestamp> that it never drops, so every scheduled run left one
    behind. It lands in the model's schema, or in the target's schema when the project gives the model a schema of
    its own (`+schema`), so both are searched. The name carries a timestamp, so the tables are found by prefix.
    Other adapters clean up after themselves: nothing to do there. -#}
{% macro hte_drop_leftover_temporaries(relation) %}
  {{ return(adapter.dispatch('hte_drop_leftover_temporaries', 'dbt_hte')(relation)) }}
{% endmacro %}

{% macro default__hte_drop_leftover_temporaries(relation) %}
  select 1
{% endmacro %}

{% macro duckdb__hte_drop_leftover_temporaries(relation) %}
  {%- if execute -%}
    {%- set schemas = [relation.schema] + ([target.schema] if target.schema != relation.schema else []) -%}
    {%- set quoted = [] -%}
    {%- for schema in schemas -%}{%- do quoted.append(hte_string_literal(schema)) -%}{%- endfor -%}
    {%- set found = run_query(
        "select table_schema, table_name from information_schema.tables where table_schema in ("
        ~ quoted | join(', ') ~ ") and table_catalog = " ~ hte_string_literal(relation.database)
        ~ " and starts_with(lower(table_name), " ~ hte_string_literal((relation.identifier ~ '__dbt_tmp') | lower) ~ ")") -%}
    {%- for row in found.rows -%}
      {%- do adapter.drop_relation(api.Relation.create(database=relation.database, schema=row[0],
                                                        identifier=row[1], type='table')) -%}
    {%- endfor -%}
  {%- endif -%}
  select 1
{% endmacro %}
