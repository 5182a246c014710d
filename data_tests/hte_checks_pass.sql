{{ config(severity=hte_config_check_severity()) }}
{#- The guardrails of hte_checks as a dbt test: every alert (a sample-ratio mismatch, a segment whose arms are
    unbalanced, a dimension whose mix differs between arms) is a returned row. With var hte_check_severity 'warn'
    (the default) `dbt build` reports the alerts and carries on; with 'error' an alert fails the build, for
    pipelines where a broken experiment must not reach a dashboard. -#}
select
    experiment_id,
    check_name,
    dimension,
    segment,
    p_value,
    message
from {{ ref('hte_checks') }}
where status = 'alert'
