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
    {{ hte_config_error('hte_population_frequency_cap',
        "be {max_contacts: N, days: D} with whole numbers N, D >= 1 (and optionally channels: [list of channel "
        ~ "names]): a unit contacted N or more times in the D days up to the run date is not treated", cap) }}
  {%- endif -%}
  {{ return(cap) }}
{% endmacro %}
