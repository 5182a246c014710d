{#- dbt.listagg with an order that every adapter honours. dbt-spark's listagg ignores order_by_clause (it warns
    and concatenates in collect_list order, which depends on the shuffle), so on Spark and Databricks the values
    are collected as (order key, value) structs, sorted, and joined. Same arguments as dbt.listagg; order_by_clause
    is 'order by <one expression>' (ascending). -#}
{% macro hte_listagg(measure, delimiter_text="','", order_by_clause=none) -%}
{{ return(adapter.dispatch('hte_listagg', 'dbt_hte')(measure, delimiter_text, order_by_clause)) }}
{%- endmacro %}

{% macro default__hte_listagg(measure, delimiter_text, order_by_clause) -%}
{{ return(dbt.listagg(measure, delimiter_text, order_by_clause)) }}
{%- endmacro %}

{% macro spark__hte_listagg(measure, delimiter_text, order_by_clause) -%}
{%- if not order_by_clause -%}
    {{ return(dbt.listagg(measure, delimiter_text)) }}
{%- endif -%}
{%- set clause = order_by_clause | trim -%}
{%- if not clause.lower().startswith('order by ') or ',' in clause or clause.lower().endswith(' desc') -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_listagg on Spark takes order_by_clause as 'order by <one expression>' (ascending); got '"
        ~ order_by_clause ~ "'.") }}
{%- endif -%}
{%- set key = clause[9:] | trim -%}
array_join(transform(array_sort(collect_list(named_struct('hte_key', {{ key }}, 'hte_value', {{ measure }}))), hte_item -> hte_item.hte_value), {{ delimiter_text }})
{%- endmacro %}
