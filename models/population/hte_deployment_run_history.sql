{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['run_date', 'experiment_id', 'metric', 'arm'],
    on_schema_change='append_new_columns',
    enabled=target.type in ['duckdb', 'databricks', 'snowflake', 'bigquery'],
) }}
{#- Every deployment run's record, kept: hte_deployment_runs holds tonight's fitted models and is rebuilt on every
    run, so a decision exported last week would lose the model that made it. One row per run date × experiment ×
    metric × arm, with hte_deployment_runs' columns except the model itself (model_sha256 identifies it; the
    blob stays in tonight's table only). Rerunning a date replaces that date's rows and nothing else; a run without
    a population (hte_deployment_runs empty) adds nothing and keeps the history. Same adapters as the Python
    model it reads. -#}
select
    run_date,
    experiment_id,
    metric,
    arm,
    control_arm,
    learner,
    status,
    reason,
    n_training_rows,
    n_treatment,
    n_control,
    n_trimmed,
    propensity_source,
    features_used,
    training_fingerprint,
    package_version,
    sklearn_version,
    seed,
    settings,
    feature_support,
    level_shift,
    mean_training_effect,
    model_sha256,
    cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as built_by_invocation
from {{ ref('hte_deployment_runs') }}
