{#- Does the lift differ across the segments of a dimension at all? Per experiment × metric × treatment arm ×
    dimension, Cochran's Q test of equal segment lifts (the fixed-effect heterogeneity test of meta-analysis):
        w_i = 1 / se_i²,  pooled = Σ w_i θ_i / Σ w_i,  Q = Σ w_i (θ_i − pooled)²,  df = k − 1,
    p = P(χ²_df > Q), and I² = max(0, (Q − df) / Q), the share of the spread beyond chance (Higgins & Thompson
    2002). The segments of one dimension hold disjoint units, so their lifts are independent, which Q assumes.
    Only segments with a usable lift enter (verdict not 'too_small' or 'not_estimable'): the same segments that
    count in the segment families, and a lift without a positive standard error has no weight 1/se². The normal
    approximation behind Q is the one the segment lifts already rely on. p_value_adj corrects over the
    dimensions of one experiment × metric × arm. -#}
{%- set method = hte_config_p_adjust_method() -%}

with lifts as (
    select * from {{ ref('hte_segment_lifts') }}
    where dimension <> 'overall'
),

dimensions as (
    select distinct experiment_id, metric, arm, control_arm, dimension
    from lifts
),

usable as (
    select experiment_id, metric, arm, dimension, lift_abs, lift_abs_se
    from lifts
    where verdict not in ('too_small', 'not_estimable')
),

-- n_estimates, pooled_estimate, statistic (Q from deviations around the pooled lift) and df per dimension
pooled as (
    {{ hte_cochran_q('usable', ['experiment_id', 'metric', 'arm', 'dimension'], 'lift_abs', 'lift_abs_se') }}
),

q_statistics as (
    select
        experiment_id, metric, arm, dimension,
        n_estimates as n_segments, pooled_estimate as pooled_lift, statistic, df
    from pooled
    where n_estimates >= 2
),

q_pvalues as (
    {{ hte_chi2_pvalues('q_statistics', ['experiment_id', 'metric', 'arm', 'dimension'],
                        statistic='statistic', df='df', out_col='p_value') }}
),

tests as (
    select q.*, v.p_value
    from q_statistics q
    join q_pvalues v
        on v.experiment_id = q.experiment_id and v.metric = q.metric and v.arm = q.arm
        and v.dimension = q.dimension
),

adjusted as (
    {{ hte_p_adjust('tests', 'p_value', ['experiment_id', 'metric', 'arm'], method, out_col='p_value_adj') }}
)

select
    d.experiment_id,
    d.metric,
    d.arm,
    d.control_arm,
    d.dimension,
    'cochran_q' as test,
    coalesce(p.n_estimates, 0) as n_segments,
    a.statistic,
    a.df,
    a.p_value,
    a.p_value_adj,
    case
        when a.statistic > a.df then (a.statistic - a.df) / a.statistic
        when a.statistic is not null then 0.0e0
    end as i_squared,
    p.pooled_estimate as pooled_lift,
    case when a.p_value is not null then 'ok' else 'not_estimable' end as status,
    case
        when a.p_value is not null then cast(null as {{ dbt.type_string() }})
        else cast(coalesce(p.n_estimates, 0) as {{ dbt.type_string() }})
            || ' usable segment(s): the test needs at least 2 segments that are neither too small nor without a standard error'
    end as reason
from dimensions d
left join pooled p
    on p.experiment_id = d.experiment_id and p.metric = d.metric and p.arm = d.arm and p.dimension = d.dimension
left join adjusted a
    on a.experiment_id = d.experiment_id and a.metric = d.metric and a.arm = d.arm and a.dimension = d.dimension
