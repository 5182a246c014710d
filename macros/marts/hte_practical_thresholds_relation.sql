{#- One row per metric of hte_metrics: metric, min_effect, min_effect_relative (null when not set), for a left
    join. Metric names are string literals with quotes escaped. -#}
{% macro hte_practical_thresholds_relation() -%}
{%- for name, spec in hte_config_practical_thresholds().items() %}
    select
        {{ hte_string_literal(name) }} as metric,
        {{ hte_double_literal(spec.min_effect) if spec.min_effect is not none else 'cast(null as ' ~ hte_double() ~ ')' }} as min_effect,
        {{ hte_double_literal(spec.min_effect_relative) if spec.min_effect_relative is not none else 'cast(null as ' ~ hte_double() ~ ')' }} as min_effect_relative
    {{ 'union all' if not loop.last }}
{%- endfor %}
{%- endmacro %}
