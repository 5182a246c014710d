{#- The graph node whose schema holds the outputs, and so dbt_hte_build_log: hte_segment_lifts (what the report and
    the summary look for, hte_engine.report.reader.OUTPUTS_MARKER), else the first output table, else none. A
    project may put the internals in another schema (README, "A tidy warehouse"); the writer of the log and its
    readers must agree on where it is. -#}
{% macro hte_outputs_home() %}
  {%- set outputs = dbt_hte.hte_export_output_nodes() -%}
  {%- for node in outputs if node.name == 'hte_segment_lifts' -%}{{ return(node) }}{%- endfor -%}
  {{ return(outputs[0] if outputs else none) }}
{% endmacro %}
