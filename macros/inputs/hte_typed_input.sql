{#- An input (var `var_name`) as its staging model selects it, before its rules run. `types` maps each column of
    the staged model, in the staged model's order, to the SQL type it is cast to. The input must have every one of
    them but the `optional` ones (hte_input_columns stops the build naming what is missing); an optional column the
    input lacks becomes a typed null under the same name, so the staged model has the same columns whatever its
    source has. `keep_other_columns`: the input's remaining columns follow, as they are (the user's feature
    columns). `where`: a condition on the input's rows.
    Returns {'relation': the input, 'columns': its column names (lower-cased), 'sql': the typed select}. -#}
{% macro hte_typed_input(var_name, types, optional=[], keep_other_columns=false, where=none) %}
  {%- set relation = hte_input_relation(var_name) -%}
  {%- set required = [] -%}
  {%- for name in types if name not in optional -%}{%- do required.append(name) -%}{%- endfor -%}
  {%- set columns = hte_input_columns(relation, var_name, required) -%}
  {%- set sql -%}
select
    {%- for name, type in types.items() %}
    cast({{ name if name in required or name in columns else 'null' }} as {{ type }}) as {{ name }}
    {{- ',' if not loop.last }}
    {%- endfor %}
    {%- for column in (adapter.get_columns_in_relation(relation) if execute and keep_other_columns else [])
        if column.name | lower not in types %},
    {{ adapter.quote(column.name) }}
    {%- endfor %}
from {{ relation }}
    {%- if where is not none %}
where {{ where }}
    {%- endif %}
  {%- endset -%}
  {{ return({'relation': relation, 'columns': columns, 'sql': sql}) }}
{% endmacro %}
