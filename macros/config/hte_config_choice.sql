{#- A var that names one of a fixed set of options (`choices`): its value, or the configuration error that says
    what each option means (`requirement`). `default`: the value when the var is unset (none: the var must be set).
    `ignore_case`: the value is compared, and returned, lower-cased (the message shows it as it was written). -#}
{% macro hte_config_choice(var_name, choices, requirement, default=none, ignore_case=false) %}
  {%- set written = var(var_name) if default is none else var(var_name, default) -%}
  {%- set value = written | string | lower if ignore_case else written -%}
  {%- if value not in choices -%}
    {{ hte_config_error(var_name, requirement, written) }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}
