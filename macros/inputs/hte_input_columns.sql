{#- The column names of an input relation (lower-cased), after checking the required ones exist.
    Returns [] at parse time, when the relation may not exist yet. -#}
{% macro hte_input_columns(relation, var_name, required) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set names = [] -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do names.append(column.name | lower) -%}
  {%- endfor -%}
  {%- if names | length == 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error: " ~ var_name ~ " (" ~ relation ~ ") does not exist or has no columns. Build it "
        ~ "first (select it with a + prefix, e.g. dbt build --select +dbt_hte) or point var '" ~ var_name
        ~ "' at an existing model, seed or source.") }}
  {%- endif -%}
  {%- set missing = [] -%}
  {%- for name in required if name | lower not in names -%}{%- do missing.append(name) -%}{%- endfor -%}
  {%- if missing -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error: " ~ var_name ~ " (" ~ relation ~ ") has no column " ~ missing | join(', ')
        ~ ". It needs " ~ required | join(', ') ~ "; it has " ~ names | join(', ') ~ ".") }}
  {%- endif -%}
  {{ return(names) }}
{% endmacro %}
