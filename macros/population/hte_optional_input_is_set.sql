{#- Helpers of the population models (models/population): the optional inputs hte_targeting_population and
    hte_contact_history, which, unlike the four experiment inputs, may be left unset. -#}

{#- Whether an optional input var names a relation. Unset (null, '', 'none') means "no such input": the population
    models then build empty tables with their documented columns instead of failing. -#}
{% macro hte_optional_input_is_set(var_name) %}
  {%- set value = var(var_name, none) -%}
  {{ return(value is not none and (value | string | trim | lower) not in ['', 'none', 'null']) }}
{% endmacro %}
