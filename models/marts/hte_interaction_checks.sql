{#- The guardrail on overlapping experiments, in the columns of hte_checks (whose rows it joins): one row per
    experiment × other experiment it overlaps with (both orders, each experiment's owner sees its own row), check
    'experiment_interaction', with the other experiment's id in `dimension`.

    The row reports the comparison of the pair (metric × treatment arm of experiment_id) whose adjusted Cochran's Q
    p-value is smallest (hte_experiment_interactions; the family is every comparison of every pair, so an alert
    anywhere is controlled at the adjusted level). `p_value` is that adjusted p-value and `statistic`, `df` its Q
    and degrees of freedom: the check alerts when p_value < hte_check_alert_p, like every check of hte_checks.
    A pair without any test (every comparison too small or not estimable) is 'info'.

    Messages name experiments, arms, metrics and whole counts only, and hold no apostrophe: a double written as
    text differs between engines, Spark escapes a quote in a literal with a backslash where ANSI SQL doubles it, and the
    messages must read the same on every adapter. -#}
{%- set alert_p = hte_config_check_alert_p() -%}
{%- set severity = hte_config_check_severity() -%}
{%- set text = dbt.type_string() -%}

with comparisons as (
    -- one row per comparison (the test is repeated on every other arm's row; the other control's row carries it)
    select *
    from {{ ref('hte_experiment_interactions') }}
    where other_arm = other_control_arm
),

ranked as (
    select
        c.*,
        row_number() over (
            partition by experiment_id, other_experiment_id
            order by case when p_value_adj is null then 1 else 0 end, p_value_adj, p_value, metric, arm
        ) as rank_in_pair,
        count(p_value_adj) over (partition by experiment_id, other_experiment_id) as n_tests,
        sum(case when p_value_adj < {{ alert_p }} then 1 else 0 end)
            over (partition by experiment_id, other_experiment_id) as n_alerting,
        count(*) over (partition by experiment_id, other_experiment_id) as n_comparisons
    from comparisons c
),

checks as (
    select
        experiment_id,
        'experiment_interaction' as check_name,
        other_experiment_id as dimension,
        cast(null as {{ text }}) as segment,
        statistic,
        df,
        p_value_adj as p_value,
        {{ alert_p }} as threshold,
        {{ hte_check_status('p_value_adj is null', 'p_value_adj', alert_p) }} as status,
        case
            when p_value_adj is null then
                experiment_id || ' and ' || other_experiment_id || ' share ' || cast(n_overlap as {{ text }})
                || ' units over overlapping assignment periods, but none of the ' || cast(n_comparisons as {{ text }})
                || ' comparisons (metric x arm) could be tested (first: ' || metric || ', ' || arm || ': ' || verdict
                || '). See hte_experiment_interactions for the estimates; this interaction is unchecked.'
            when p_value_adj < {{ alert_p }} then
                'The effect of ' || experiment_id || ' depends on the arm of ' || other_experiment_id || ': among the '
                || cast(n_overlap as {{ text }}) || ' units in both experiments, the lift of ' || arm || ' on ' || metric
                || ' differs across the arms of ' || other_experiment_id || ' (Cochran Q test, adjusted over every experiment pair; '
                || cast(n_alerting as {{ text }}) || ' of ' || cast(n_tests as {{ text }}) || ' comparisons alert). '
                || 'Its overall lift is an average over the arms of ' || other_experiment_id || ', not the effect of shipping it alone: '
                || 'read its lift within each arm of ' || other_experiment_id || ' in hte_experiment_interactions and decide the two launches together.'
            else
                'No evidence that the lifts of ' || experiment_id || ' depend on the arm of ' || other_experiment_id || ' ('
                || cast(n_tests as {{ text }}) || ' comparisons tested on the ' || cast(n_overlap as {{ text }}) || ' units in both experiments).'
        end as message
    from ranked
    where rank_in_pair = 1
)

select {{ hte_check_columns(severity) }}
from checks
