{#- The statistic, df, p-value and status columns of a chi-square check of hte_checks (sample ratio mismatch,
    whole experiment or segment; covariate balance): the statistic and df of the check's CTE `alias`, the p-value
    of its hte_chi2_pvalues CTE (alias p), and the status of hte_check_status: 'info' where `untestable`, 'alert'
    below `alert_p` (var hte_check_alert_p, as the model read it). -#}
{% macro hte_chi2_check(alias, untestable, alert_p) -%}
{{ alias }}.statistic,
        {{ alias }}.df,
        p.p_value,
        {{ hte_check_status(untestable, 'p.p_value', alert_p) }} as status
{%- endmacro %}
