{% macro hte_export_output_nodes() %}
  {#- dbt_hte's output tables: its models named hte_* that are materialized as tables (marts, Python outputs,
      hte_cell_stats), in a stable order. Staging views and int_* tables are internals, not outputs. -#}
  {%- set nodes = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='name') -%}
    {%- if node.resource_type == 'model' and node.package_name == 'dbt_hte' and node.name.startswith('hte_')
          and node.config.materialized in ['table', 'incremental'] -%}
      {%- do nodes.append(node) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(nodes) }}
{% endmacro %}
