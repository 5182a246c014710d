-- The whole-build benchmark's shape (bench_build.py), applied to generate_inputs.sql's tables: the user project
-- the issue measured. exp_a: 2 arms, a binary metric (conversion) and a revenue metric; exp_b: 3 arms, the binary
-- metric only. Both declare targeting economics, so every Python model (learners, evaluation, targeting) runs.
delete from bench_inputs.outcomes
where metric = 'sessions' or (experiment_id = 'exp_b' and metric <> 'conversion');

create or replace table bench_inputs.experiments as
select
    e.*,
    case when e.experiment_id = 'exp_a' then 'revenue' else 'conversion' end as target_metric,
    case when e.experiment_id = 'exp_a' then 1.0 else 20.0 end as benefit_per_unit,
    case when e.is_control then 0.0 when e.experiment_id = 'exp_a' then 0.15 else 0.4 end as cost_per_treated
from bench_inputs.experiments e;
