{#- Resolve one of the four input vars to a relation.
    A plain name is a model or seed of the user's project (resolved with ref, so dbt knows the lineage);
    'source:<source_name>.<table_name>' is a dbt source. -#}
{% macro hte_input_relation(var_name) %}
  {%- set value = var(var_name) -%}
  {%- if value is not string or value | trim == '' -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var '" ~ var_name ~ "' must name a model or seed (e.g. 'my_assignments') "
        ~ "or a source as 'source:<source_name>.<table_name>'; got " ~ (value | string) ~ ".") }}
  {%- endif -%}
  {%- if value.startswith('source:') -%}
    {%- set parts = value[7:].split('.') -%}
    {%- if parts | length != 2 -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: var '" ~ var_name ~ "' is '" ~ value
          ~ "'; a source must be written 'source:<source_name>.<table_name>'.") }}
    {%- endif -%}
    {{ return(source(parts[0], parts[1])) }}
  {%- else -%}
    {{ return(ref(value)) }}
  {%- endif -%}
{% endmacro %}


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
