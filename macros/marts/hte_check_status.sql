{#- The status of a guardrail check with a p-value (hte_checks, hte_interaction_checks): 'info' when the test
    cannot be trusted or did not run (`untestable`, e.g. an arm expects fewer than 5 units, or no p-value), 'alert'
    when the p-value is below `alert_p` (var hte_check_alert_p), else 'pass'. -#}
{% macro hte_check_status(untestable, p_value, alert_p) -%}
case
            when {{ untestable }} then 'info'
            when {{ p_value }} < {{ alert_p }} then 'alert'
            else 'pass'
        end
{%- endmacro %}
