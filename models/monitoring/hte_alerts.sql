{#- What changed since the previous run, one row per change with its before and after, read from the histories:

      lift rows (hte_lift_history, the `verdict` column):
        verdict_appeared      a segment (or the overall lift) is now positive or negative and was not before
        verdict_disappeared   it was positive or negative and now is not (or the row is gone)
        verdict_flipped       positive became negative or negative became positive
      check rows (hte_check_history):
        check_started_alerting   a guardrail (sample-ratio mismatch, covariate balance) has status 'alert' now
                                 and did not before
        check_stopped_alerting   it alerted before and does not now

    "Now" is the run date of this build (var hte_run_date, else today in UTC); "before" is the latest earlier run
    date at which the experiment has rows in the history, per experiment, so an experiment that joins the
    schedule later is compared with its own previous run. An experiment's first run has nothing to compare with
    and gives no rows (its state is in hte_segment_lifts and hte_checks). Rebuilt as a table on every run:
    rerunning a past date recomputes that date's changes against the run before it.

      learner rows (hte_learner_history, where hte_monitors_learner_choice(): adapters that run the Python models,
      var hte_alert_on_learner_choice true):
        learner_choice_changed   the learner a comparison's targeting uses is not the one it used before (e.g. x
                                 became the constant: the heterogeneity is no longer detected)
-#}
{{ config(materialized='table') }}
{%- set text = dbt.type_string() -%}

with current_date_param as (
    select {{ hte_run_date_sql() }} as run_date
),

lift_history as (
    select * from {{ ref('hte_lift_history') }}
),

check_history as (
    select * from {{ ref('hte_check_history') }}
),
{%- if hte_monitors_learner_choice() %}

learner_history as (
    select * from {{ ref('hte_learner_history') }}
),
{%- endif %}

-- per experiment, the latest run date before this one in either history
previous_dates as (
    select h.experiment_id, max(h.run_date) as previous_run_date
    from (
        select experiment_id, run_date from lift_history
        union all
        select experiment_id, run_date from check_history
    ) h
    cross join current_date_param c
    where h.run_date < c.run_date
    group by h.experiment_id
),

-- both runs of each lift row side by side (macros/monitoring/hte_runs_side_by_side.sql)
lift_pairs as (
    {{ hte_runs_side_by_side('lift_history', ['experiment_id', 'metric', 'dimension', 'segment', 'arm'],
        [('verdict', 'verdict'), ('lift_abs', 'estimate'), ('p_value_adj', 'p_value_adj'),
            ('p_value_sequential_adj', 'p_value_sequential_adj')],
        carried=['control_arm']) }}
),

lift_changes as (
    select
        l.*,
        case
            when verdict_before in ('positive', 'negative') and verdict_after in ('positive', 'negative')
                and verdict_before <> verdict_after then 'verdict_flipped'
            when verdict_after in ('positive', 'negative')
                and (verdict_before is null or verdict_before not in ('positive', 'negative')) then 'verdict_appeared'
            when verdict_before in ('positive', 'negative')
                and (verdict_after is null or verdict_after not in ('positive', 'negative')) then 'verdict_disappeared'
        end as alert_type
    from lift_pairs l
),

-- checks without a dimension or segment (the whole-experiment sample-ratio test) group fine
check_pairs as (
    {{ hte_runs_side_by_side('check_history', ['experiment_id', 'check_name', 'dimension', 'segment'],
        [('status', 'status'), ('statistic', 'estimate'), ('p_value', 'p_value')],
        after_only=[('severity', 'severity')]) }}
),

{% if hte_monitors_learner_choice() -%}
-- a comparison's chosen learner at both dates; only a change between two existing choices is an alert (a
-- comparison evaluated for the first time, or no longer evaluated, shows in hte_learner_evaluation's status)
learner_changes as (
    {{ hte_runs_side_by_side('learner_history', ['experiment_id', 'metric', 'arm'],
        [('learner', 'learner'), ('qini_coefficient', 'qini')],
        carried=['control_arm'], after_only=[('choice_reason', 'reason')]) }}
),

{% endif -%}
check_changes as (
    select
        k.*,
        case
            when status_after = 'alert' and (status_before is null or status_before <> 'alert') then 'check_started_alerting'
            when status_before = 'alert' and (status_after is null or status_after <> 'alert') then 'check_stopped_alerting'
        end as alert_type
    from check_pairs k
),

alerts as (
    select
        experiment_id,
        alert_type,
        'lift' as source,
        metric,
        dimension,
        segment,
        arm,
        control_arm,
        cast(null as {{ text }}) as check_name,
        previous_run_date,
        verdict_before as value_before,
        verdict_after as value_after,
        estimate_before,
        estimate_after,
        p_value_adj_before as p_value_before,
        p_value_adj_after as p_value_after,
        p_value_sequential_adj_before,
        p_value_sequential_adj_after,
        case
            when verdict_after in ('positive', 'negative') then 'warn'
            else 'info'
        end as severity,
        'Lift of ' || metric || ', ' || arm || ' vs ' || coalesce(control_arm, '?') || ', '
            || case when dimension = 'overall' then 'overall' else dimension || ' = ' || segment end
            || ': verdict ' || coalesce(verdict_before, '(no row)') || ' -> ' || coalesce(verdict_after, '(no row)')
            || case
                when alert_type = 'verdict_flipped' then '. The sign reversed: check for a novelty effect or a change in who is assigned (hte_cohort_lifts).'
                when alert_type = 'verdict_appeared'
                    then '. With verdict basis fixed, a verdict seen after many looks may be a false positive; '
                    || 'the sequential verdict is safe to act on.'
                else '. The effect is no longer distinguishable from 0 at this look.'
            end as message
    from lift_changes
    where alert_type is not null

    union all

    select
        experiment_id,
        alert_type,
        'check' as source,
        cast(null as {{ text }}) as metric,
        dimension,
        segment,
        cast(null as {{ text }}) as arm,
        cast(null as {{ text }}) as control_arm,
        check_name,
        previous_run_date,
        status_before as value_before,
        status_after as value_after,
        estimate_before,
        estimate_after,
        p_value_before,
        p_value_after,
        cast(null as {{ hte_double() }}) as p_value_sequential_adj_before,
        cast(null as {{ hte_double() }}) as p_value_sequential_adj_after,
        case when alert_type = 'check_started_alerting' then coalesce(severity_after, 'warn') else 'info' end as severity,
        'Check ' || check_name
            || case when dimension is not null then ' on ' || dimension else '' end
            || case when segment is not null then ' = ' || segment else '' end
            || ': status ' || coalesce(status_before, '(no row)') || ' -> ' || coalesce(status_after, '(no row)')
            || case
                when alert_type = 'check_started_alerting'
                    then '. Do not trust the lifts of this experiment until the cause is found (hte_checks has the details).'
                else '. The check no longer alerts.'
            end as message
    from check_changes
    where alert_type is not null
{% if hte_monitors_learner_choice() -%}

    union all

    select
        experiment_id,
        'learner_choice_changed' as alert_type,
        'learner' as source,
        metric,
        cast(null as {{ text }}) as dimension,
        cast(null as {{ text }}) as segment,
        arm,
        control_arm,
        cast(null as {{ text }}) as check_name,
        previous_run_date,
        learner_before as value_before,
        learner_after as value_after,
        qini_before as estimate_before,
        qini_after as estimate_after,
        cast(null as {{ hte_double() }}) as p_value_before,
        cast(null as {{ hte_double() }}) as p_value_after,
        cast(null as {{ hte_double() }}) as p_value_sequential_adj_before,
        cast(null as {{ hte_double() }}) as p_value_sequential_adj_after,
        'warn' as severity,
        'Chosen learner of ' || metric || ', ' || arm || ' vs ' || coalesce(control_arm, '?') || ': '
            || learner_before || ' -> ' || learner_after
            || '. Targeting now ranks units with ' || learner_after
            || case when learner_after = 'constant'
                then ' (the same effect for every unit: no heterogeneity is detected any more)'
                else '' end
            || '; compare hte_targeting_history with the previous run before acting on the new ranking.'
            || coalesce(' Why: ' || reason_after, '') as message
    from learner_changes
    where learner_before is not null and learner_after is not null and learner_before <> learner_after
{%- endif %}
)

select
    c.run_date,
    a.previous_run_date,
    a.experiment_id,
    a.alert_type,
    a.source,
    a.metric,
    a.dimension,
    a.segment,
    a.arm,
    a.control_arm,
    a.check_name,
    a.value_before,
    a.value_after,
    cast(a.estimate_before as {{ hte_double() }}) as estimate_before,
    cast(a.estimate_after as {{ hte_double() }}) as estimate_after,
    cast(a.p_value_before as {{ hte_double() }}) as p_value_before,
    cast(a.p_value_after as {{ hte_double() }}) as p_value_after,
    cast(a.p_value_sequential_adj_before as {{ hte_double() }}) as p_value_sequential_adj_before,
    cast(a.p_value_sequential_adj_after as {{ hte_double() }}) as p_value_sequential_adj_after,
    a.severity,
    a.message
from alerts a
cross join current_date_param c
