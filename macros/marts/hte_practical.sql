{#- Practical significance and multiplicity-adjusted intervals, shared by hte_segment_lifts and
    hte_segment_differences. -#}


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


{#- The level at which a test's adjusted interval is drawn, so that the interval and the verdict agree:
        bonferroni, holm   alpha / m          (Bonferroni simultaneous intervals; for Holm the conservative choice:
                                               an interval that excludes 0 implies a Holm rejection, not conversely)
        bh                 max(R, 1) alpha / m (Benjamini & Yekutieli 2005 FCR-adjusted intervals, R = BH rejections;
                                               R = 0 gives the Bonferroni level, the smallest BY level)
    m = tests in the family (family_size), R = tests of the family with p_value_adj < alpha. -#}
{% macro hte_adjusted_level(method, alpha_col, m_col, r_col) -%}
{%- if method == 'bh' -%}
    (case when {{ r_col }} > 0 then {{ r_col }} else 1 end) * {{ alpha_col }} / {{ m_col }}
{%- else -%}
    {{ alpha_col }} / {{ m_col }}
{%- endif -%}
{%- endmacro %}


{#- Practical verdict of an estimate against a threshold delta > 0:
        meaningful_positive / _negative  the adjusted interval (adj_low, adj_high) lies beyond +delta / -delta
        negligible                       the two one-sided tests of |effect| >= delta both reject at level alpha:
                                         equivalently the (1 - 2 alpha) interval estimate +- z_{1-alpha} se lies
                                         inside (-delta, +delta) (Schuirmann 1987)
        uncertain                        otherwise
    null when delta is null (no threshold) or the estimate is not tested (tested_col false). The adjusted interval
    is wider than the (1 - 2 alpha) one, so meaningful and negligible never both hold. -#}
{% macro hte_practical_verdict(estimate, se, delta, adj_low, adj_high, z_tost, tested_col) -%}
case
    when {{ delta }} is null or not ({{ tested_col }}) then null
    when {{ adj_low }} > {{ delta }} then 'meaningful_positive'
    when {{ adj_high }} < -({{ delta }}) then 'meaningful_negative'
    when {{ se }} > 0
        and {{ estimate }} - {{ z_tost }} * {{ se }} > -({{ delta }})
        and {{ estimate }} + {{ z_tost }} * {{ se }} < {{ delta }} then 'negligible'
    else 'uncertain'
end
{%- endmacro %}


{#- TOST p-value: the larger of the one-sided p-values of H0: effect <= -delta and H0: effect >= +delta (normal
    approximation, as the lifts' own p-values). Below alpha exactly when the practical verdict is negligible. -#}
{% macro hte_equivalence_p_value(estimate, se, delta) -%}
case
    when {{ delta }} is not null and {{ se }} > 0 then greatest(
        {{ hte_normal_cdf('-((' ~ estimate ~ ' + ' ~ delta ~ ') / ' ~ se ~ ')') }},
        {{ hte_normal_cdf('(' ~ estimate ~ ' - ' ~ delta ~ ') / ' ~ se) }}
    )
end
{%- endmacro %}
