{{ config(post_hook="{{ hte_warn_unobserved_configuration(this) }}") }}
{#- Guardrails that decide whether the lifts can be trusted at all, one row per experiment × check (× dimension
    × segment where the check has one). A check with a p-value alerts when p < hte_check_alert_p; an alert carries
    the severity of var hte_check_severity, and the singular test hte_checks_pass turns alerts into a dbt warning
    or error. Informational rows ('info') describe what the analysis left out or reshaped.

    Chi-square statistics are written out here and turned into p-values by hte_chi2_pvalues:
      goodness of fit (sample ratio mismatch):  Σ_arms (n_a − N·share_a)² / (N·share_a),   df = arms − 1
      independence (covariate balance):         Σ_cells (O − E)² / E,  E = row total · column total / N,
                                                df = (segments − 1)(arms − 1), no continuity correction.
    The chi-square approximation needs expected counts of about 5 or more in every cell (Cochran 1954): where a
    cell expects fewer, the row is 'info', never an alert. -#}
{%- set alert_p = hte_config_check_alert_p() -%}
{%- set severity = hte_config_check_severity() -%}
{%- set min_size = hte_config_min_segment_size() -%}
{%- set max_levels = var('hte_max_segments_per_dimension') | int -%}
{%- set text = dbt.type_string() -%}
{#- Configured names that match no data (column_not_observed, metric_not_observed): segment columns are counted in
    int_hte_segment_levels; the learners' feature columns that are not also segment columns need a count of their
    own over the assigned units. -#}
{%- set segment_columns = hte_segment_columns() -%}
{%- set segment_names = segment_columns | map('lower') | list -%}
{%- set feature_only = [] -%}
{%- for name in var('hte_feature_columns') if name | lower not in segment_names and name | lower not in feature_only | map('lower') | list -%}
  {%- do feature_only.append(name) -%}
{%- endfor -%}
{%- set feature_names = var('hte_feature_columns') | map('lower') | list -%}

with arms as (
    select experiment_id, arm, expected_share
    from {{ ref('stg_hte_experiments') }}
),

-- ---------------------------------------------------------------- sample ratio mismatch, whole experiment
assigned as (
    select experiment_id, arm, count(*) as n
    from {{ ref('stg_hte_assignments') }}
    group by experiment_id, arm
),

arm_counts as (
    select a.experiment_id, a.arm, a.expected_share, coalesce(s.n, 0) as n
    from arms a
    left join assigned s
        on s.experiment_id = a.experiment_id and s.arm = a.arm
),

arm_totals as (
    select experiment_id, sum(n) as n_total
    from arm_counts
    group by experiment_id
),

srm as (
    select
        c.experiment_id,
        sum((c.n - t.n_total * c.expected_share) * (c.n - t.n_total * c.expected_share) / (t.n_total * c.expected_share)) as statistic,
        count(*) - 1 as df,
        min(t.n_total * c.expected_share) as min_expected,
        {{ hte_listagg(
            "c.arm || ' ' || cast(c.n as " ~ text ~ ") || ' (expected share ' || cast(c.expected_share as " ~ text ~ ") || ')'",
            "', '", "order by c.arm") }} as arm_summary
    from arm_counts c
    join arm_totals t
        on t.experiment_id = c.experiment_id
    where t.n_total > 0
    group by c.experiment_id
),

srm_pvalues as (
    {{ hte_chi2_pvalues('srm', ['experiment_id'], statistic='statistic', df='df') }}
),

-- ---------------------------------------------------------------- units per arm within each segment
-- Units, not unit × metric rows: every metric of an experiment covers the same units, so one metric's counts
-- (the first by name) are the unit counts.
first_metric as (
    select experiment_id, min(metric) as metric
    from {{ ref('hte_segment_stats') }}
    group by experiment_id
),

segment_arm_observed as (
    select s.experiment_id, s.dimension, s.segment, s.arm, s.n
    from {{ ref('hte_segment_stats') }} s
    join first_metric m
        on m.experiment_id = s.experiment_id and m.metric = s.metric
    where s.dimension <> 'overall'
),

segments as (
    select distinct experiment_id, dimension, segment
    from segment_arm_observed
),

segment_arms as (
    select g.experiment_id, g.dimension, g.segment, a.arm, a.expected_share, coalesce(o.n, 0) as n
    from segments g
    join arms a
        on a.experiment_id = g.experiment_id
    left join segment_arm_observed o
        on o.experiment_id = g.experiment_id and o.dimension = g.dimension and o.segment = g.segment
        and o.arm = a.arm
),

segment_totals as (
    select experiment_id, dimension, segment, sum(n) as n_total, min(n) as n_smallest_arm
    from segment_arms
    group by experiment_id, dimension, segment
),

segment_srm as (
    select
        a.experiment_id,
        a.dimension,
        a.segment,
        sum((a.n - t.n_total * a.expected_share) * (a.n - t.n_total * a.expected_share) / (t.n_total * a.expected_share)) as statistic,
        count(*) - 1 as df,
        min(t.n_total * a.expected_share) as min_expected,
        t.n_total
    from segment_arms a
    join segment_totals t
        on t.experiment_id = a.experiment_id and t.dimension = a.dimension and t.segment = a.segment
    group by a.experiment_id, a.dimension, a.segment, t.n_total
),

segment_srm_pvalues as (
    {{ hte_chi2_pvalues('segment_srm', ['experiment_id', 'dimension', 'segment'], statistic='statistic', df='df') }}
),

-- ---------------------------------------------------------------- covariate balance: segment × arm table
-- Arms without any unit are left out of the table (their expected counts would be 0); the sample-ratio check
-- reports them.
balance_columns as (
    select experiment_id, dimension, arm, sum(n) as n_arm
    from segment_arms
    group by experiment_id, dimension, arm
    having sum(n) > 0
),

dimension_totals as (
    select experiment_id, dimension, sum(n_total) as n_dimension
    from segment_totals
    group by experiment_id, dimension
),

balance_cells as (
    select
        s.experiment_id,
        s.dimension,
        s.segment,
        s.arm,
        s.n as observed,
        cast(t.n_total as {{ hte_double() }}) * c.n_arm / d.n_dimension as expected
    from segment_arms s
    join balance_columns c
        on c.experiment_id = s.experiment_id and c.dimension = s.dimension and c.arm = s.arm
    join segment_totals t
        on t.experiment_id = s.experiment_id and t.dimension = s.dimension and t.segment = s.segment
    join dimension_totals d
        on d.experiment_id = s.experiment_id and d.dimension = s.dimension
),

balance as (
    select
        experiment_id,
        dimension,
        sum((observed - expected) * (observed - expected) / expected) as statistic,
        (count(distinct segment) - 1) * (count(distinct arm) - 1) as df,
        count(distinct segment) as n_segments,
        min(expected) as min_expected
    from balance_cells
    group by experiment_id, dimension
),

balance_pvalues as (
    {{ hte_chi2_pvalues('balance', ['experiment_id', 'dimension'], statistic='statistic', df='df') }}
),

-- ---------------------------------------------------------------- configured names with no data at all
-- A configured column without a value for any assigned unit of any experiment, or a configured metric without any
-- outcome row, is almost always a typo or a broken upstream join, and dbt_hte would otherwise just leave it out
-- (every unit in segment (missing), the learners dropping the column, no row for the metric) without a word. Absent
-- from one experiment only is normal (experiments measure different things): dimension_not_observed reports that
-- as info.
experiment_ids as (
    select distinct experiment_id from arms
),

{% if feature_only %}
feature_values as (
    select
        {%- for column in feature_only %}
        count(f.{{ adapter.quote(column) }}) as n_values_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_hte_assignments') }} a
    join {{ ref('stg_hte_unit_features') }} f
        on {{ hte_feature_join('f', 'a') }}
),
{% endif %}

column_values as (
    {%- for column in segment_columns %}
    select
        {{ hte_string_literal(column) }} as column_name,
        {{ hte_string_literal('hte_segment_columns and hte_feature_columns' if column | lower in feature_names else 'hte_segment_columns') }} as in_vars,
        coalesce(sum(case when raw_segment <> '(missing)' then n_units else 0 end), 0) as n_values
    from {{ ref('int_hte_segment_levels') }}
    where dimension = {{ hte_string_literal(column) }}
    union all
    {%- endfor %}
    {%- for column in feature_only %}
    select {{ hte_string_literal(column) }} as column_name, 'hte_feature_columns' as in_vars, n_values_{{ loop.index }} as n_values
    from feature_values
    union all
    {%- endfor %}
    -- closes the union (a project may configure no feature column beyond its segment columns)
    select cast(null as {{ text }}) as column_name, cast(null as {{ text }}) as in_vars, 1 as n_values
),

configured_metrics as (
    {%- for name in hte_metrics() %}
    select {{ hte_string_literal(name) }} as metric
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

observed_metrics as (
    select metric
    from {{ ref('int_hte_raw_cells') }}
    group by metric
    having sum(n_rows) > 0
),

unobserved_metrics as (
    select c.metric
    from configured_metrics c
    left join observed_metrics o
        on o.metric = c.metric
    where o.metric is null
),

-- ---------------------------------------------------------------- the checks, long format
checks as (
    select
        s.experiment_id,
        'sample_ratio_mismatch' as check_name,
        cast(null as {{ text }}) as dimension,
        cast(null as {{ text }}) as segment,
        {{ hte_chi2_check('s', 's.min_expected < 5', alert_p) }},
        case
            when s.min_expected < 5 then
                'Too few units (' || s.arm_summary || ') for a chi-square sample-ratio test (an arm expects fewer than 5); the p-value is only indicative.'
            when p.p_value < {{ alert_p }} then
                'Units per arm (' || s.arm_summary || ') do not match the expected shares: the assignment or its logging is broken. '
                || 'Do not trust any lift of this experiment until the cause is found (e.g. bot filtering, redirects, an arm that started late, a logging bug).'
            else 'Units per arm (' || s.arm_summary || ') are consistent with the expected shares.'
        end as message
    from srm s
    join srm_pvalues p
        on p.experiment_id = s.experiment_id

    union all

    select
        s.experiment_id,
        'sample_ratio_mismatch_segment' as check_name,
        s.dimension,
        s.segment,
        {{ hte_chi2_check('s', 's.min_expected < 5', alert_p) }},
        case
            when s.min_expected < 5 then
                'Too few units (' || cast(s.n_total as {{ text }}) || ') in segment ' || s.segment || ' of ' || s.dimension
                || ' for a chi-square sample-ratio test (an arm expects fewer than 5); the p-value is only indicative.'
            when p.p_value < {{ alert_p }} then
                'Units per arm in segment ' || s.segment || ' of ' || s.dimension || ' do not match the expected shares: '
                || 'units of this segment were assigned or logged differently. If the experiment as a whole passes, '
                || 'check whether ' || s.dimension || ' can be changed by the treatment (a post-treatment segment) or is recorded differently per arm.'
            else 'Units per arm in segment ' || s.segment || ' of ' || s.dimension || ' are consistent with the expected shares.'
        end as message
    from segment_srm s
    join segment_srm_pvalues p
        on p.experiment_id = s.experiment_id and p.dimension = s.dimension and p.segment = s.segment

    union all

    select
        b.experiment_id,
        'covariate_balance' as check_name,
        b.dimension,
        cast(null as {{ text }}) as segment,
        {{ hte_chi2_check('b', 'b.n_segments < 2 or b.min_expected < 5', alert_p) }},
        case
            when b.n_segments < 2 then
                'Dimension ' || b.dimension || ' has a single segment in this experiment: there is no balance to test.'
            when b.min_expected < 5 then
                'Too few units in some segment × arm cells of ' || b.dimension
                || ' (a cell expects fewer than 5) for a chi-square balance test; the p-value is only indicative.'
            when p.p_value < {{ alert_p }} then
                'The mix of ' || b.dimension || ' segments differs between arms, which randomisation makes unlikely for a pre-treatment variable. '
                || 'This is the signature of a post-treatment segment (one the treatment itself changed): its segment lifts are not causal. '
                || 'Use a snapshot of ' || b.dimension || ' taken before assignment, or drop it from hte_segment_columns.'
            else 'The mix of ' || b.dimension || ' segments is balanced across arms.'
        end as message
    from balance b
    join balance_pvalues p
        on p.experiment_id = b.experiment_id and p.dimension = b.dimension

    union all

    select
        t.experiment_id,
        'minimum_segment_size' as check_name,
        t.dimension,
        t.segment,
        {{ hte_counted_check('t.n_smallest_arm') }},
        'info' as status,
        'Segment ' || t.segment || ' of ' || t.dimension || ' has fewer units than hte_min_segment_size ('
            || cast({{ min_size }} as {{ text }}) || ') in these arms: ' || u.small_arms
            || ': every lift and difference of this segment that uses such an arm is labelled too_small'
            || ' and excluded from the multiple-testing family.' as message
    from segment_totals t
    join (
        select
            experiment_id, dimension, segment,
            {{ hte_listagg("arm || ' (' || cast(n as " ~ text ~ ") || ' units)'", "', '", "order by arm") }} as small_arms
        from segment_arms
        where n < {{ min_size }}
        group by experiment_id, dimension, segment
    ) u
        on u.experiment_id = t.experiment_id and u.dimension = t.dimension and u.segment = t.segment

    union all

    select
        experiment_id,
        'dimension_folded' as check_name,
        dimension,
        '(other)' as segment,
        {{ hte_counted_check('count(*)') }},
        'info' as status,
        'Dimension ' || dimension || ' has ' || cast(count(*) as {{ text }}) || ' levels beyond its '
            || cast({{ max_levels }} as {{ text }}) || ' largest (hte_max_segments_per_dimension); they were folded into segment (other) ('
            || cast(sum(n_units) as {{ text }}) || ' units). Group the levels upstream or raise the limit if one of them matters on its own.' as message
    from {{ ref('int_hte_segment_levels') }}
    where is_folded
    group by experiment_id, dimension

    union all

    select
        experiment_id,
        'dimension_not_observed' as check_name,
        dimension,
        cast(null as {{ text }}) as segment,
        {{ hte_counted_check() }},
        'info' as status,
        'Segment column ' || dimension || ' has no value for any unit of this experiment, so the dimension is skipped for it. '
            || 'Check the feature snapshot of this experiment, or ignore this if the column does not apply to it.' as message
    from {{ ref('int_hte_segment_levels') }}
    where not is_observed
    group by experiment_id, dimension

    union all

    select
        e.experiment_id,
        'column_not_observed' as check_name,
        c.column_name as dimension,
        cast(null as {{ text }}) as segment,
        {{ hte_counted_check() }},
        'alert' as status,
        'Column ' || c.column_name || ' of var ' || c.in_vars || ' has no value for any assigned unit of any experiment, so dbt_hte uses it nowhere '
            || '(a segment column puts every unit in segment (missing); the learners drop a feature column). '
            || 'A misspelt column, a broken join or an empty snapshot upstream looks like this: '
            || 'check the hte_unit_features input, or remove the column from the var.' as message
    from experiment_ids e
    cross join column_values c
    where c.column_name is not null and c.n_values = 0

    union all

    select
        e.experiment_id,
        'metric_not_observed' as check_name,
        cast(null as {{ text }}) as dimension,
        cast(null as {{ text }}) as segment,
        {{ hte_counted_check('count(*)') }},
        'alert' as status,
        'Metrics ' || {{ hte_listagg("m.metric", "', '", "order by m.metric") }}
            || ' of var hte_metrics have no outcome row in any experiment, so no lift is computed for them. '
            || 'Check their spelling against the metric column of the hte_outcomes input '
            || '(names are compared exactly, case included), or remove them from the var.' as message
    from experiment_ids e
    cross join unobserved_metrics m
    group by e.experiment_id
),

-- each check's threshold: the p-value below which a test alerts, or the size a count is compared with
thresholded as (
    select
        c.*,
        case
            when check_name in ('sample_ratio_mismatch', 'sample_ratio_mismatch_segment', 'covariate_balance') then {{ alert_p }}
            when check_name = 'minimum_segment_size' then {{ min_size }}
            when check_name = 'dimension_folded' then {{ max_levels }}
        end as threshold
    from checks c
),

-- experiments left out by var hte_on_invalid_experiment: skip, one alert per input rule broken
-- (models/staging/hte_skipped_experiments.sql): dimension names the input, segment its column
skipped as (
    select
        experiment_id,
        'invalid_experiment_skipped' as check_name,
        input_name as dimension,
        column_name as segment,
        {{ hte_counted_check('n_bad') }},
        cast(null as {{ hte_double() }}) as threshold,
        'alert' as status,
        'Experiment ' || experiment_id || ' is left out of every table (var hte_on_invalid_experiment: skip): in '
            || input_name || ', column ' || column_name || ', ' || cast(n_bad as {{ text }}) || ' ' || problem
            || ' (e.g. ' || example || '). ' || fix as message
    from {{ ref('hte_skipped_experiments') }}
)

select {{ hte_check_columns(severity) }}
from thresholded

-- overlapping experiments: the experiment_interaction check, one row per experiment × other experiment, built in
-- these columns, order and types by its own model (models/marts/hte_interaction_checks.sql, docs/interactions.md)
union all

select
    experiment_id, check_name, dimension, segment, statistic, df, p_value, threshold, status, severity, message
from {{ ref('hte_interaction_checks') }}

union all

select {{ hte_check_columns(severity) }}
from skipped
