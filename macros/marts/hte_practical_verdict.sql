{#- Practical significance and multiplicity-adjusted intervals, shared by hte_segment_lifts and
    hte_segment_differences. -#}


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
