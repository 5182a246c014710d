{#- The verdict of one tested effect, the same words in every table that publishes one (hte_segment_lifts'
    fixed-horizon and sequential verdicts, hte_segment_differences): too small to read, not estimable, or the sign
    of the estimate when its multiplicity-adjusted p-value is under alpha, else inconclusive. The order matters: a
    segment under hte_min_segment_size keeps its estimate but never a sign. -#}
{% macro hte_verdict(is_too_small, p_value, p_value_adj, alpha, estimate) -%}
    case
        when {{ is_too_small }} then 'too_small'
        when {{ p_value }} is null then 'not_estimable'
        when {{ p_value_adj }} < {{ alpha }} and {{ estimate }} > 0 then 'positive'
        when {{ p_value_adj }} < {{ alpha }} and {{ estimate }} < 0 then 'negative'
        else 'inconclusive'
    end
{%- endmacro %}
