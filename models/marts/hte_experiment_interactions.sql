{#- Interactions between overlapping experiments. For each ordered pair of experiments that share units over
    overlapping assignment periods (hte_experiment_interaction_stats), each metric of experiment_id and each of its
    treatment arms, one row per arm of the other experiment (its control included):

      lift within that other arm    Welch difference in means of arm vs control_arm among the shared units assigned
                                    to other_arm: mean_t − mean_c, se² = s_t²/n_t + s_c²/n_c (ddof 1), as in
                                    hte_segment_lifts;
      interaction                   that lift minus the lift within the other experiment's control arm: how much the
                                    other experiment's arm changes this arm's effect. The two lifts are measured on
                                    disjoint units, so se² is the sum of their se² (as in hte_segment_differences);
                                    null on the other-control row itself;
      test (one per comparison)     Cochran's Q across the other experiment's arms (macro hte_cochran_q): are the
                                    lifts within all of them equal? With a two-arm other experiment Q is the square
                                    of the interaction's z; with more arms it tests all interactions at once.
                                    Repeated on every row of the comparison.

    The Q p-values form one family over the whole table (every pair, both orders, every metric and treatment arm),
    adjusted with var hte_p_adjust: the interaction check of hte_checks alerts on any of them, so the chance of a
    false alert anywhere is what the adjustment bounds. A comparison with a cell (arm or control_arm × any arm of
    the other experiment) under hte_min_segment_size units is 'too_small': its estimates stay, with intervals, but
    it gets no p-value and stays out of the family, so it can neither alert nor dilute the tests that count.
    A lift without a positive standard error (a constant outcome in a cell) makes the comparison 'not_estimable'.

    Columns are cast explicitly: with no overlapping experiments the table is empty but keeps its types. -#}
{%- set alpha = hte_config_alpha() -%}
{%- set min_size = hte_config_min_segment_size() -%}
{%- set method = hte_config_p_adjust_method() -%}
{%- set double = hte_double() -%}
{%- set text = dbt.type_string() -%}
{%- set comparison = ['experiment_id', 'other_experiment_id', 'metric', 'arm'] -%}

-- depends_on: {{ ref('stg_hte_experiments') }}
with params as (
    {{ hte_interval_params(alpha) }}
),

treatment_arms as (
    {{ hte_treatment_arms() }}
),

stats as (
    select * from {{ ref('hte_experiment_interaction_stats') }}
),

-- the experiment pairs and metrics analysed, with the units the two experiments share and the period overlap
comparisons as (
    select
        experiment_id,
        other_experiment_id,
        metric,
        sum(n) as n_overlap,
        min(overlap_start) as overlap_start,
        min(overlap_end) as overlap_end
    from stats
    group by experiment_id, other_experiment_id, metric
),

other_arms as (
    select o.experiment_id, o.arm, c.arm as control_arm
    from {{ ref('stg_hte_experiments') }} o
    join {{ ref('stg_hte_experiments') }} c
        on c.experiment_id = o.experiment_id
        and c.is_control
),

-- every treatment arm × every declared arm of the other experiment, even when a cell has no unit (n = 0 then)
paired as (
    select
        c.experiment_id,
        c.other_experiment_id,
        c.metric,
        t.arm,
        t.control_arm,
        o.arm as other_arm,
        o.control_arm as other_control_arm,
        c.n_overlap,
        c.overlap_start,
        c.overlap_end,
        {{ hte_sums_or_zero('st', '_t') }},
        {{ hte_sums_or_zero('sc', '_c') }}
    from comparisons c
    join treatment_arms t
        on t.experiment_id = c.experiment_id
    join other_arms o
        on o.experiment_id = c.other_experiment_id
    left join stats st
        on st.experiment_id = c.experiment_id and st.other_experiment_id = c.other_experiment_id
        and st.metric = c.metric and st.arm = t.arm and st.other_arm = o.arm
    left join stats sc
        on sc.experiment_id = c.experiment_id and sc.other_experiment_id = c.other_experiment_id
        and sc.metric = c.metric and sc.arm = t.control_arm and sc.other_arm = o.arm
),

-- each arm's mean and the Welch lift with its variance (macro hte_welch_lifts), as hte_segment_lifts
welch as (
    {{ hte_welch_lifts('paired') }}
),

lifts as (
    select
        w.*,
        -- the comparison's smallest cell and whether every lift of it has a positive standard error
        min(case when n_t < n_c then n_t else n_c end) over (partition by {{ comparison | join(', ') }}) as n_smallest_cell,
        min(case when lift_abs_var > 0 then 1 else 0 end) over (partition by {{ comparison | join(', ') }}) as all_estimable
    from welch w
),

-- each lift beside the lift within the other experiment's control arm (same comparison)
interactions as (
    select
        l.*,
        case when l.other_arm <> l.other_control_arm then l.lift_abs - b.lift_abs end as interaction,
        case when l.other_arm <> l.other_control_arm then sqrt(l.lift_abs_var + b.lift_abs_var) end as interaction_se,
        case
            when l.n_smallest_cell < {{ min_size }} then 'too_small'
            when l.all_estimable = 0 then 'not_estimable'
            else 'ok'
        end as status
    from lifts l
    join lifts b
        on b.experiment_id = l.experiment_id and b.other_experiment_id = l.other_experiment_id
        and b.metric = l.metric and b.arm = l.arm and b.other_arm = l.other_control_arm
),

usable as (
    select experiment_id, other_experiment_id, metric, arm, lift_abs, lift_abs_se
    from interactions
    where status = 'ok'
),

q_statistics as (
    {{ hte_cochran_q('usable', comparison, 'lift_abs', 'lift_abs_se') }}
),

q_pvalues as (
    {{ hte_chi2_pvalues('q_statistics', comparison, statistic='statistic', df='df', out_col='p_value') }}
),

tests as (
    select q.*, v.p_value
    from q_statistics q
    join q_pvalues v
        on v.experiment_id = q.experiment_id and v.other_experiment_id = q.other_experiment_id
        and v.metric = q.metric and v.arm = q.arm
    -- an other experiment with one declared arm has nothing to compare (df 0)
    where q.df >= 1
),

-- one family: every test of the table (hte_p_adjust with no partition)
adjusted as (
    {{ hte_p_adjust('tests', 'p_value', [], method, out_col='p_value_adj') }}
),

family_tests as (
    select a.*, count(*) over () as family_size
    from adjusted a
    where a.p_value_adj is not null
)

select
    cast(i.experiment_id as {{ text }}) as experiment_id,
    cast(i.metric as {{ text }}) as metric,
    cast(i.arm as {{ text }}) as arm,
    cast(i.control_arm as {{ text }}) as control_arm,
    cast(i.other_experiment_id as {{ text }}) as other_experiment_id,
    cast(i.other_arm as {{ text }}) as other_arm,
    cast(i.other_control_arm as {{ text }}) as other_control_arm,
    cast(i.n_overlap as {{ dbt.type_bigint() }}) as n_overlap,
    cast(i.overlap_start as {{ dbt.type_timestamp() }}) as overlap_start,
    cast(i.overlap_end as {{ dbt.type_timestamp() }}) as overlap_end,
    cast(i.n_t as {{ dbt.type_bigint() }}) as n_treatment,
    cast(i.n_c as {{ dbt.type_bigint() }}) as n_control,
    cast(i.mean_t as {{ double }}) as mean_treatment,
    cast(i.mean_c as {{ double }}) as mean_control,
    {{ hte_normal_estimate('i.lift_abs', 'i.lift_abs_se', 'lift_abs', 'lift_p_value', "i.status <> 'too_small'") }},
    {{ hte_normal_estimate('i.interaction', 'i.interaction_se', 'interaction', 'interaction_p_value',
        "i.status <> 'too_small'") }},
    cast('cochran_q' as {{ text }}) as test,
    cast(f.n_estimates as {{ dbt.type_int() }}) as n_other_arms,
    cast(f.statistic as {{ double }}) as statistic,
    cast(f.df as {{ dbt.type_int() }}) as df,
    cast(f.p_value as {{ double }}) as p_value,
    cast(f.p_value_adj as {{ double }}) as p_value_adj,
    cast(f.family_size as {{ dbt.type_bigint() }}) as family_size,
    cast(case
        when f.statistic > f.df then (f.statistic - f.df) / f.statistic
        when f.statistic is not null then 0.0e0
    end as {{ double }}) as i_squared,
    cast(f.pooled_estimate as {{ double }}) as pooled_lift,
    cast(case
        when i.status <> 'ok' then i.status
        when f.p_value_adj is null then 'not_estimable'
        when f.p_value_adj < prm.alpha then 'interaction'
        else 'no_evidence'
    end as {{ text }}) as verdict,
    cast(case when i.status = 'ok' and f.p_value_adj is null then 'not_estimable' else i.status end as {{ text }}) as status,
    cast(case
        when i.status = 'too_small' then
            'A cell of this comparison has ' || cast(i.n_smallest_cell as {{ text }}) || ' units, fewer than hte_min_segment_size ('
            || cast({{ min_size }} as {{ text }}) || '): estimates are shown, no test is made.'
        when i.status = 'not_estimable' then
            'A lift of this comparison has no positive standard error (its outcome is constant within a cell): no test is made.'
        when f.p_value_adj is null then
            'The other experiment has a single arm: there is nothing to compare.'
    end as {{ text }}) as reason,
    cast(prm.alpha as {{ double }}) as alpha,
    cast(prm.z_critical as {{ double }}) as z_critical
from interactions i
cross join params prm
left join family_tests f
    on f.experiment_id = i.experiment_id and f.other_experiment_id = i.other_experiment_id
    and f.metric = i.metric and f.arm = i.arm
