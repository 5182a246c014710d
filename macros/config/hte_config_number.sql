{#- A var that must be a number, strictly above `above`, strictly below `below` and at least `at_least` where they
    are given: its value, or the configuration error that says what it is for (`requirement`). `default`: the value
    when the var is unset (none: the var must be set). -#}
{% macro hte_config_number(var_name, requirement, above=none, below=none, at_least=none, default=none) %}
  {%- set value = var(var_name) if default is none else var(var_name, default) -%}
  {%- if value is not number or (above is not none and value <= above) or (below is not none and value >= below)
        or (at_least is not none and value < at_least) -%}
    {{ hte_config_error(var_name, requirement, value) }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}
