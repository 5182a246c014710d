{#- One row set per run date: the learner each ok comparison's targeting uses (hte_learner_evaluation.is_chosen)
    as chosen that day, so hte_alerts can tell when the choice changed. Same incremental contract as
    hte_lift_history: delete+insert on run_date, one row set per date, a rerun replaces its date only. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['run_date'],
    on_schema_change='append_new_columns',
    enabled=hte_monitors_learner_choice()
) }}

select
    {{ hte_run_date_sql() }} as run_date,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as run_at,
    experiment_id,
    metric,
    arm,
    control_arm,
    learner,
    heterogeneity_detected,
    qini_coefficient,
    qini_coefficient_ci_low,
    qini_coefficient_ci_high,
    choice_reason
from {{ ref('hte_learner_evaluation') }}
where is_chosen
