-- The benchmark's inputs, generated inside DuckDB: getvariable('units') units in two experiments, six segment
-- columns (cardinalities 2, 3, 4, 5, 10 with 2% nulls, and 50 skewed levels that dbt_hte folds to its 20
-- largest + '(other)'), three metrics (binary; continuous with a pre-period value for CUPED; a sparse count whose
-- zero rows are absent, as in event logs). Every random draw is a hash of (unit, stream): the same --units gives
-- the same tables on every run and machine running this DuckDB version, and no Python row ever exists.
-- Identifiers are VARCHAR and timestamps TIMESTAMP, the types dbt_hte's staging casts to, so neither the package
-- nor the hand-written query pays for a cast the other skips.

create schema if not exists bench_inputs;

-- 53 random bits of the hash of (unit, stream) as a double in [0, 1). One integer per draw, unit * 4096 + stream
-- (streams stay below 4096): DuckDB's two-argument hash(unit, stream) combines the two hashes so weakly that its
-- streams are strongly dependent (arm and country came out associated, chi-square p < 1e-300 on 300,000 units).
create or replace temp macro bench_uniform(unit, stream) as
    (hash(unit * 4096 + stream) >> 11)::double / 9007199254740992.0;

-- Box-Muller standard normal from two streams; 1 - u is in (0, 1], so ln() is finite
create or replace temp macro bench_normal(unit, stream) as
    sqrt(-2.0 * ln(1.0 - bench_uniform(unit, stream))) * cos(2.0 * pi() * bench_uniform(unit, stream + 1000));

create or replace temp table bench_units as
with drawn as (
    select
        i,
        case when i % 5 < 3 then 'exp_a' else 'exp_b' end as experiment_id,
        bench_uniform(i, 1) as u_arm,
        bench_uniform(i, 2) as u_plan
    from range(getvariable('units')) t(i)
)
select
    i,
    experiment_id,
    'u' || lpad(cast(i as varchar), 9, '0') as unit_id,
    case
        when experiment_id = 'exp_a' then (case when u_arm < 0.5 then 'control' else 'treatment' end)
        else ['control', 'variant_1', 'variant_2'][1 + cast(floor(u_arm * 3) as integer)]
    end as arm,
    timestamp '2024-03-01' + to_seconds(cast(floor(bench_uniform(i, 3) * 14 * 86400) as bigint)) as assigned_at,
    case when u_plan < 0.3 then 'paid' else 'free' end as plan,
    ['ios', 'android', 'web'][1 + cast(floor(bench_uniform(i, 4) * 3) as integer)] as platform,
    ['0-3m', '3-12m', '1-2y', '2y+'][1 + cast(floor(bench_uniform(i, 5) * 4) as integer)] as tenure_band,
    ['18-24', '25-34', '35-44', '45-54', '55+'][1 + cast(floor(bench_uniform(i, 6) * 5) as integer)] as age_band,
    case
        when bench_uniform(i, 7) < 0.02 then null
        else 'country_' || lpad(cast(cast(floor(bench_uniform(i, 8) * 10) as integer) as varchar), 2, '0')
    end as country,
    -- level k has probability sqrt((k+1)/50) - sqrt(k/50): decreasing, so the 20 kept levels are the first 20
    'campaign_' || lpad(cast(cast(floor(50 * bench_uniform(i, 9) * bench_uniform(i, 9)) as integer) as varchar), 2, '0')
        as campaign,
    bench_uniform(i, 10) as score
from drawn;

create or replace table bench_inputs.experiments as
select * from (values
    ('exp_a', 'control', true, 0.5),
    ('exp_a', 'treatment', false, 0.5),
    ('exp_b', 'control', true, 1.0 / 3),
    ('exp_b', 'variant_1', false, 1.0 / 3),
    ('exp_b', 'variant_2', false, 1.0 / 3)
) e(experiment_id, arm, is_control, expected_share);

create or replace table bench_inputs.assignments as
select experiment_id, unit_id, arm, assigned_at
from bench_units;

create or replace table bench_inputs.unit_features as
select
    experiment_id,
    unit_id,
    assigned_at - interval 1 day as features_at,
    plan, platform, tenure_band, age_band, country, campaign, score
from bench_units;

-- effects differ by plan and platform, so the segments carry real heterogeneity
create or replace table bench_inputs.outcomes as
with effects as (
    select
        *,
        case when arm = 'control' then 0.0 else 1.0 end as treated,
        case when plan = 'paid' then 1.0 else 0.0 end as paid,
        case when platform = 'web' then 1.0 else 0.0 end as web,
        case when bench_uniform(i, 20) < 0.4
            then exp(1.0 + 0.8 * bench_normal(i, 21)) else 0.0 end as pre_revenue
    from bench_units
)
select experiment_id, unit_id, 'conversion' as metric,
    case when bench_uniform(i, 11) < 0.08 + 0.04 * paid + treated * (0.005 + 0.02 * paid) then 1.0 else 0.0 end
        as value,
    cast(null as double) as pre_value
from effects
union all
select experiment_id, unit_id, 'revenue' as metric,
    greatest(0.0, 0.7 * pre_revenue + 3.0 * bench_normal(i, 12) + treated * (0.2 + 0.5 * paid - 0.3 * web)) as value,
    pre_revenue as pre_value
from effects
union all
select experiment_id, unit_id, 'sessions' as metric, value, cast(null as double) as pre_value
from (
    select experiment_id, unit_id,
        floor(-ln(1.0 - bench_uniform(i, 13)) * (1.5 + 0.3 * treated)) as value
    from effects
) s
where value > 0;

drop table bench_units;
