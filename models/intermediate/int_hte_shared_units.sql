{#- The units assigned in both experiments of an overlapping pair, with their arm in each: one row per ordered pair
    of experiments (experiment_id, other_experiment_id) whose assignment periods ([first, last assigned_at]) overlap
    × unit assigned in both. hte_experiment_interaction_stats sums their outcomes.

    A table of its own, not a CTE of that model, because its row count steers the join to the outcomes: when it is
    a CTE, DuckDB estimates it as large and builds its hash table on every outcome row (25 M at the 10 M-unit
    benchmark, 2.8 s) even when no unit is shared; read from a table, the join is built on the shared units
    (bench/run_sql_bench.py: 4.2-6.1 s of the model became 1.8 s with this table, no experiment sharing a unit).

    Built after int_hte_raw_cells has passed the input rules checked on the join, like every model after staging:
    a build whose inputs fail them leaves this table as the last good build left it. -#}
-- depends_on: {{ ref('int_hte_raw_cells') }}

with periods as (
    select
        experiment_id,
        min(assigned_at) as period_start,
        max(assigned_at) as period_end
    from {{ ref('stg_hte_assignments') }}
    group by experiment_id
),

-- ordered pairs of distinct experiments whose assignment periods overlap (closed intervals: touching counts)
pairs as (
    select
        p.experiment_id,
        q.experiment_id as other_experiment_id,
        case when p.period_start > q.period_start then p.period_start else q.period_start end as overlap_start,
        case when p.period_end < q.period_end then p.period_end else q.period_end end as overlap_end
    from periods p
    join periods q
        on q.experiment_id <> p.experiment_id
        and q.period_end >= p.period_start
        and q.period_start <= p.period_end
)

-- one row per unit assigned in both experiments of a pair (staging guarantees one assignment per experiment × unit)
select
    p.experiment_id,
    p.other_experiment_id,
    cast(p.overlap_start as {{ dbt.type_timestamp() }}) as overlap_start,
    cast(p.overlap_end as {{ dbt.type_timestamp() }}) as overlap_end,
    a.unit_id,
    a.arm,
    b.arm as other_arm
from pairs p
join {{ ref('stg_hte_assignments') }} a
    on a.experiment_id = p.experiment_id
join {{ ref('stg_hte_assignments') }} b
    on b.experiment_id = p.other_experiment_id
    and b.unit_id = a.unit_id
