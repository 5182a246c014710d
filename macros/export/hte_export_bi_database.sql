{#- Write <directory>/hte_bi.duckdb (views over the published files) when it does not exist; returns its path, or
    '' when it already existed. It is never opened once written (see the top of this file). -#}
{% macro hte_export_bi_database(directory, outputs) %}
  {%- set path = directory ~ '/hte_bi.duckdb' -%}
  {%- set existing = run_query("select count(*) from glob(" ~ dbt_hte.hte_string_literal(path) ~ ")") -%}
  {%- if existing.columns[0].values()[0] > 0 -%}{{ return('') }}{%- endif -%}
  {%- set published = run_query("select file from glob(" ~ dbt_hte.hte_string_literal(directory ~ '/hte_*.parquet')
                                ~ ")").columns[0].values() -%}
  {%- set views = [] -%}
  {%- for name in outputs | sort if (directory ~ '/' ~ name ~ '.parquet') in published -%}
    {%- do views.append(name) -%}
  {%- endfor -%}
  {#- storage version 1.0 keeps the file readable by the older DuckDB builds BI tools embed -#}
  {%- call statement('hte_export_bi_database', fetch_result=false) -%}
    attach {{ dbt_hte.hte_string_literal(path) }} as hte_bi_export (storage_version 'v1.0.0');
    {%- for name in views %}
    create view hte_bi_export.main.{{ adapter.quote(name) }} as
      select * from read_parquet({{ dbt_hte.hte_string_literal(directory ~ '/' ~ name ~ '.parquet') }});
    {%- endfor %}
    detach hte_bi_export
  {%- endcall -%}
  {#- the views are catalog writes: commit them (dbt opened a transaction for the statement) -#}
  {%- do adapter.commit() -%}
  {{ return(path) }}
{% endmacro %}
