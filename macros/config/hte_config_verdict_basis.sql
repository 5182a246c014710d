{#- fixed: verdict follows the fixed-horizon adjusted p-value (valid at one pre-planned look);
    sequential: it follows the adjusted sequential p-value (valid at every look). -#}
{% macro hte_config_verdict_basis() %}
  {%- set basis = var('hte_verdict_basis', 'fixed') | string | lower -%}
  {%- if basis not in ['fixed', 'sequential'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_verdict_basis' must be fixed (one pre-planned look) or sequential "
        ~ "(confidence sequences: safe to look after every build); got " ~ (var('hte_verdict_basis') | string) ~ ".") }}
  {%- endif -%}
  {{ return(basis) }}
{% endmacro %}
