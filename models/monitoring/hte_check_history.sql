{#- One row set per run date: every row of hte_checks as it stood on that date, so hte_alerts can tell a guardrail
    that started alerting from one that has always alerted. Same incremental contract as hte_lift_history:
    delete+insert on run_date, one row set per date, a rerun replaces its date only. -#}

{{ hte_history_rows(ref('hte_checks'), [
    'experiment_id', 'check_name', 'dimension', 'segment', 'statistic', 'df', 'p_value', 'threshold', 'status',
    'severity', 'message',
]) }}
