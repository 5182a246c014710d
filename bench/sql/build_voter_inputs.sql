-- The field experiment's shape from issue 11 (344k voters, one 5-arm experiment, one binary metric, no targeting
-- economics), applied to generate_inputs.sql's tables: every unit joins exp_v, arms in the proportions of
-- Gerber, Green & Larimer (2008): control 55.6%, four treatment mailings 11.1% each, turnout effects of +1.8,
-- +2.6, +4.9 and +8.1 pp on a 30% base, larger for units with a paid plan (the planted heterogeneity).
create or replace temp macro voter_uniform(unit_id, stream) as
    (hash(unit_id || '/' || stream) >> 11)::double / 9007199254740992.0;

create or replace temp table voter_units as
select
    a.unit_id,
    a.assigned_at,
    voter_uniform(a.unit_id, 'arm') as u_arm,
    voter_uniform(a.unit_id, 'voted') as u_voted,
    f.plan
from bench_inputs.assignments a
join bench_inputs.unit_features f
    on f.experiment_id = a.experiment_id and f.unit_id = a.unit_id;

create or replace temp table voter_arms as
select
    *,
    case
        when u_arm < 0.556 then 'control'
        when u_arm < 0.667 then 'civic_duty'
        when u_arm < 0.778 then 'hawthorne'
        when u_arm < 0.889 then 'self'
        else 'neighbors'
    end as arm
from voter_units;

create or replace table bench_inputs.assignments as
select 'exp_v' as experiment_id, unit_id, arm, assigned_at
from voter_arms;

update bench_inputs.unit_features set experiment_id = 'exp_v';

create or replace table bench_inputs.outcomes as
select
    'exp_v' as experiment_id,
    unit_id,
    'voted' as metric,
    case when u_voted < 0.30
        + case arm when 'civic_duty' then 0.018 when 'hawthorne' then 0.026 when 'self' then 0.049
                   when 'neighbors' then 0.081 else 0.0 end * (case when plan = 'paid' then 1.8 else 0.66 end)
        then 1.0 else 0.0 end as value,
    cast(null as double) as pre_value
from voter_arms;

create or replace table bench_inputs.experiments as
select * from (values
    ('exp_v', 'control', true, 0.556),
    ('exp_v', 'civic_duty', false, 0.111),
    ('exp_v', 'hawthorne', false, 0.111),
    ('exp_v', 'self', false, 0.111),
    ('exp_v', 'neighbors', false, 0.111)
) e(experiment_id, arm, is_control, expected_share);
