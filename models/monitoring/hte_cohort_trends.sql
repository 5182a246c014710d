{#- A trend across assignment cohorts: per experiment × metric × treatment arm × dimension × segment, the weighted
    least-squares line through the cohort lifts of hte_cohort_lifts (only cohorts with in_trend), lift_k = a + b·x_k
    with x_k = cohort_index (weeks since the first cohort) and weights w_k = 1/se_k²:

        W = Σw,  x̄ = Σwx/W,  ȳ = Σwy/W,  Sxx = Σw(x − x̄)²,  Sxy = Σw(x − x̄)(y − ȳ)
        slope b = Sxy/Sxx,  se(b) = 1/sqrt(Sxx),  intercept a = ȳ − b·x̄,  z = b/se(b),  p = 2Φ(−|z|)
        residual Q = Σw(y − a − bx)²  on k − 2 degrees of freedom

    The cohort lifts are independent (disjoint units) with known variances se_k², so the slope's variance is
    1/Sxx with no estimated scale: statsmodels WLS(y, [1, x], weights=w).fit(cov_type='fixed scale'). Q is the
    weighted residual sum of squares (WLS ssr): much larger than its df means the cohorts differ by more than a
    straight line explains (a one-week spike, say); the slope's se then understates the uncertainty
    (docs/monitoring.md). Segment rows are adjusted for multiple testing in the families of var
    hte_p_adjust_family; the overall row is its own family. Centred sums are formed in a second pass (deviations
    from the weighted means), not from raw moments, so nearly equal cohort indices lose no precision. -#}
{{ config(materialized='table') }}
{%- set alpha = hte_config_alpha() -%}
{#- a trend's key: one per experiment × metric × arm × dimension × segment -#}
{%- set trend_keys = ['experiment_id', 'metric', 'arm', 'dimension', 'segment'] -%}
{%- set method = hte_config_p_adjust_method() -%}
{%- set family = hte_config_family_columns() -%}

with params as (
    {{ hte_interval_params(alpha) }}
),

cohorts as (
    select * from {{ ref('hte_cohort_lifts') }}
),

groups as (
    select
        experiment_id, metric, arm, dimension, segment,
        max(control_arm) as control_arm,
        cast(count(*) as {{ dbt.type_int() }}) as n_cohorts,
        cast(sum(case when in_trend then 1 else 0 end) as {{ dbt.type_int() }}) as n_cohorts_in_trend,
        min(case when in_trend then cohort_week end) as first_cohort_week,
        max(case when in_trend then cohort_week end) as last_cohort_week
    from cohorts
    group by experiment_id, metric, arm, dimension, segment
),

points as (
    select
        experiment_id, metric, arm, dimension, segment,
        cohort_index as x,
        lift_abs as y,
        1.0e0 / (lift_abs_se * lift_abs_se) as w
    from cohorts
    where in_trend
),

weighted_means as (
    select
        experiment_id, metric, arm, dimension, segment,
        sum(w) as sum_w,
        sum(w * x) / sum(w) as x_bar,
        sum(w * y) / sum(w) as y_bar
    from points
    group by experiment_id, metric, arm, dimension, segment
),

centred as (
    select
        m.experiment_id, m.metric, m.arm, m.dimension, m.segment,
        m.sum_w, m.x_bar, m.y_bar,
        sum(p.w * (p.x - m.x_bar) * (p.x - m.x_bar)) as s_xx,
        sum(p.w * (p.x - m.x_bar) * (p.y - m.y_bar)) as s_xy
    from weighted_means m
    join points p
        on {{ hte_same_keys('p', 'm', trend_keys) }}
    group by m.experiment_id, m.metric, m.arm, m.dimension, m.segment, m.sum_w, m.x_bar, m.y_bar
),

fits as (
    select
        c.*,
        case when s_xx > 0 then s_xy / s_xx end as slope,
        case when s_xx > 0 then 1.0e0 / sqrt(s_xx) end as slope_se,
        case when s_xx > 0 then y_bar - s_xy / s_xx * x_bar end as intercept
    from centred c
),

residuals as (
    select
        f.experiment_id, f.metric, f.arm, f.dimension, f.segment,
        sum(p.w * (p.y - f.intercept - f.slope * p.x) * (p.y - f.intercept - f.slope * p.x)) as residual_q
    from fits f
    join points p
        on {{ hte_same_keys('p', 'f', trend_keys) }}
    where f.slope is not null
    group by f.experiment_id, f.metric, f.arm, f.dimension, f.segment
),

tested as (
    select
        g.experiment_id, g.metric, g.arm, g.control_arm, g.dimension, g.segment,
        g.n_cohorts, g.n_cohorts_in_trend, g.first_cohort_week, g.last_cohort_week,
        f.slope,
        f.slope_se,
        f.intercept,
        f.slope / f.slope_se as z,
        case when f.slope_se > 0 then {{ hte_normal_two_sided_p('f.slope / f.slope_se') }} end as p_value,
        r.residual_q,
        case when f.slope is not null then g.n_cohorts_in_trend - 2 end as residual_df,
        prm.alpha,
        prm.z_critical
    from groups g
    left join fits f
        on {{ hte_same_keys('f', 'g', trend_keys) }}
    left join residuals r
        on {{ hte_same_keys('r', 'g', trend_keys) }}
    cross join params prm
),

{{ hte_family_adjustment('tested', family, method, where="dimension <> 'overall'") }}

select
    t.experiment_id,
    t.metric,
    t.arm,
    t.control_arm,
    t.dimension,
    t.segment,
    t.n_cohorts,
    t.n_cohorts_in_trend,
    t.first_cohort_week,
    t.last_cohort_week,
    t.slope,
    t.slope_se,
    {{ hte_normal_interval('t.slope', 't.slope_se', 't.z_critical', 'slope') }},
    t.intercept,
    t.z,
    t.p_value,
    case when t.dimension = 'overall' then t.p_value else a.p_value_adj end as p_value_adj,
    t.residual_q,
    cast(t.residual_df as {{ dbt.type_int() }}) as residual_df,
    case
        when t.slope is null then 'too_few_cohorts'
        when (case when t.dimension = 'overall' then t.p_value else a.p_value_adj end) < t.alpha and t.slope > 0 then 'increasing'
        when (case when t.dimension = 'overall' then t.p_value else a.p_value_adj end) < t.alpha and t.slope < 0 then 'decreasing'
        else 'no_trend_detected'
    end as verdict,
    t.alpha
from tested t
left join adjusted a
    on {{ hte_same_keys('a', 't', trend_keys) }}
