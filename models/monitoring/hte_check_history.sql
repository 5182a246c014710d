{#- One row set per run date: every row of hte_checks as it stood on that date, so hte_alerts can tell a guardrail
    that started alerting from one that has always alerted. Same incremental contract as hte_lift_history:
    delete+insert on run_date, one row set per date, a rerun replaces its date only. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['run_date'],
    on_schema_change='append_new_columns'
) }}

select
    {{ hte_run_date_sql() }} as run_date,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as run_at,
    experiment_id,
    check_name,
    dimension,
    segment,
    statistic,
    df,
    p_value,
    threshold,
    status,
    severity,
    message
from {{ ref('hte_checks') }}
