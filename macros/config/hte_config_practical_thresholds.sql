{#- The optional minimum effect worth acting on, per metric of var hte_metrics: `min_effect` (absolute, in the
    metric's units: 0.005 = half a percentage point for a binary metric) or `min_effect_relative` (0.02 = 2% of the
    control mean). One of the two at most: with both, "meaningful" would have two answers. Returns
    {metric: {'min_effect': number or none, 'min_effect_relative': number or none}} for every metric. -#}
{% macro hte_config_practical_thresholds() %}
  {%- set out = {} -%}
  {%- for name, spec in hte_metrics().items() -%}
    {%- set absolute = spec.get('min_effect') -%}
    {%- set relative = spec.get('min_effect_relative') -%}
    {%- for key, value in [('min_effect', absolute), ('min_effect_relative', relative)] -%}
      {%- if value is not none and (value is not number or value is boolean or value <= 0) -%}
        {{ exceptions.raise_compiler_error(
            "dbt_hte configuration error: metric '" ~ name ~ "' in var 'hte_metrics': " ~ key
            ~ " must be a positive number (the smallest effect worth acting on); got " ~ (value | string) ~ ".") }}
      {%- endif -%}
    {%- endfor -%}
    {%- if absolute is not none and relative is not none -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: metric '" ~ name ~ "' in var 'hte_metrics' sets both min_effect and "
          ~ "min_effect_relative; set one of them (absolute, in the metric's units, or relative to the control mean).") }}
    {%- endif -%}
    {%- do out.update({name: {'min_effect': absolute, 'min_effect_relative': relative}}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}
