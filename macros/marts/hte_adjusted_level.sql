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
