{#- The policy test's arms as the next experiment's hte_experiments input: the holdout (business as usual) is the
    control; the shares are the configured ones (the hash split's expectation, which the sample-ratio check of
    the follow-up build then verifies). -#}
{{ config(materialized='view', enabled=target.type in ['duckdb', 'databricks', 'snowflake', 'bigquery']) }}
{%- set holdout = var('hte_population_holdout_share') | float -%}
{%- set exploration = var('hte_population_exploration_share') | float -%}

with experiments as (
    select distinct followup_experiment_id as experiment_id
    from {{ ref('hte_population_targeting') }}
    where followup_experiment_id is not null
),

arms as (
    select 'holdout' as arm, true as is_control, {{ holdout }} as expected_share
    union all
    select 'policy' as arm, false as is_control, {{ 1 - holdout - exploration }} as expected_share
    {%- if exploration > 0 %}
    union all
    select 'exploration' as arm, false as is_control, {{ exploration }} as expected_share
    {%- endif %}
)

select e.experiment_id, a.arm, a.is_control, cast(a.expected_share as {{ hte_double() }}) as expected_share
from experiments e
cross join arms a
{%- if holdout <= 0 %}
where 1 = 0  {#- no holdout, no control arm: there is no policy test to declare #}
{%- endif %}
