{#- Helpers of the population models (models/population): the optional inputs hte_targeting_population and
    hte_contact_history, which, unlike the four experiment inputs, may be left unset. -#}

{#- Whether an optional input var names a relation. Unset (null, '', 'none') means "no such input": the population
    models then build empty tables with their documented columns instead of failing. -#}
{% macro hte_optional_input_is_set(var_name) %}
  {%- set value = var(var_name, none) -%}
  {{ return(value is not none and (value | string | trim | lower) not in ['', 'none', 'null']) }}
{% endmacro %}

{#- The frequency cap var as a checked mapping {max_contacts, days, channels}, or none when no cap is set. A typo
    must fail the build: a cap that silently does nothing would contact people more often than the business allows. -#}
{% macro hte_population_frequency_cap() %}
  {%- set cap = var('hte_population_frequency_cap', none) -%}
  {%- if cap is none or (cap is string and (cap | trim | lower) in ['', 'none', 'null']) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if cap is not mapping or cap.get('max_contacts') is not number or cap.get('days') is not number
        or cap.get('max_contacts') < 1 or cap.get('days') < 1
        or (cap.get('channels') is not none and (cap.get('channels') is string or cap.get('channels') is mapping)) -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_population_frequency_cap' must be {max_contacts: N, days: D} with "
        ~ "whole numbers N, D >= 1 (and optionally channels: [list of channel names]): a unit contacted N or more "
        ~ "times in the D days up to the run date is not treated; got " ~ (cap | string) ~ ".") }}
  {%- endif -%}
  {{ return(cap) }}
{% endmacro %}

{#- Whether a column type, as the adapter reports it, is a boolean on any adapter dbt_hte supports. -#}
{% macro hte_is_boolean_type(data_type) %}
  {{ return((data_type | string | lower) in ['boolean', 'bool']) }}
{% endmacro %}
