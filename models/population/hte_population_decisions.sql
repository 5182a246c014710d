{#- What the deployed policy does to the population, in a few rows a report or a BI tool can read without touching
    the unit table (one row per population unit, millions of rows): per experiment x run date x policy-test group
    x decision x reason code x chosen arm, the units, their expected net value and expected cost. -#}
{{ config(materialized='table', enabled=target.type in ['duckdb', 'databricks', 'snowflake', 'bigquery']) }}

select
    experiment_id,
    run_date,
    holdout_group,
    decision,
    reason_code,
    chosen_arm,
    cast(count(*) as {{ dbt.type_bigint() }}) as n_units,
    sum(expected_net_value) as expected_net_value,
    sum(expected_cost) as expected_cost
from {{ ref('hte_population_targeting') }}
group by experiment_id, run_date, holdout_group, decision, reason_code, chosen_arm
