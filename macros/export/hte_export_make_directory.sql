{#- Create the folder and its missing parents. A COPY partitioned by a column writes into a folder it creates;
    with no rows it writes no file, and overwrite_or_ignore leaves an existing folder and its files as they are. -#}
{% macro hte_export_make_directory(directory) %}
  {%- set parts = directory.split('/') -%}
  {%- for depth in range(2, parts | length + 1) -%}
    {%- call statement('hte_export_mkdir', fetch_result=false) -%}
      copy (select 1 as hte_level, 1 as hte_unused where false)
      to {{ dbt_hte.hte_string_literal(parts[:depth] | join('/')) }}
      (format parquet, partition_by (hte_level), overwrite_or_ignore true)
    {%- endcall -%}
  {%- endfor -%}
{% endmacro %}
