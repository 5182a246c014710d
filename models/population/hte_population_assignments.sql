{#- The policy test as the next experiment's assignments input: point var hte_assignments (with the outcomes the
    test produces) at this model and the next `dbt build` measures the policy against business as usual with the
    package's own lifts. One row per population unit in the test (eligible and not frequency-capped) x source
    experiment; arms: policy, holdout (control) and exploration. -#}
{{ config(materialized='view', enabled=target.type in ['duckdb', 'databricks', 'snowflake', 'bigquery']) }}

select
    followup_experiment_id as experiment_id,
    unit_id,
    followup_arm as arm,
    cast(cast(run_date as date) as {{ dbt.type_timestamp() }}) as assigned_at,
    experiment_id as source_experiment_id,
    chosen_arm as treatment_given
from {{ ref('hte_population_targeting') }}
where followup_arm is not null
