{#- Sufficient statistics of overlapping experiments: per ordered pair of experiments (experiment_id, whose lift and
    outcomes these are; other_experiment_id, the experiment it is crossed with) × metric of experiment_id × arm ×
    other arm, the units assigned in both experiments and n, Σy, Σy² of experiment_id's outcome over them.
    hte_experiment_interactions computes every lift, interaction and test from these cells.

    A pair is analysed when its experiments share units and their assignment periods ([first, last assigned_at]
    of each experiment) overlap: two experiments that ran one after the other on the same units are a question of
    carry-over, not of interaction, and are left out. Only units assigned in both experiments count: a unit of
    experiment_id that was never in the other experiment has no arm there and says nothing about the interaction.

    Both orders of a pair are rows: each experiment's outcome rows are its own (hte_outcomes is per experiment ×
    unit × metric), so the lift of A within B's arms and the lift of B within A's arms are measured on different
    outcome rows and are two comparisons. A unit without an outcome row for a metric of experiment_id counts as 0,
    as everywhere in the package; an experiment's metrics are the ones hte_segment_stats holds for it.

    The pairs and their shared units come from int_hte_shared_units (a table, so that the join to the outcomes is
    built on the shared units, not on every outcome row). The outcomes are read from the staging view after
    int_hte_raw_cells has passed the input rules checked on the join (one outcome row per unit × metric among
    them): the ref to hte_segment_stats orders this model after them, so a duplicate outcome row can never be
    summed twice here. -#}

-- metrics of each experiment (the overall rows of hte_segment_stats: one per experiment × metric × arm)
with experiment_metrics as (
    select distinct experiment_id, metric
    from {{ ref('hte_segment_stats') }}
    where dimension = 'overall'
),

unit_outcomes as (
    select
        u.experiment_id,
        u.other_experiment_id,
        u.overlap_start,
        u.overlap_end,
        m.metric,
        u.arm,
        u.other_arm,
        coalesce(o.value, 0.0e0) as y
    from {{ ref('int_hte_shared_units') }} u
    {{ hte_join_metric_outcomes() }}
)

select
    experiment_id,
    other_experiment_id,
    metric,
    arm,
    other_arm,
    cast(count(*) as {{ dbt.type_bigint() }}) as n,
    cast(sum(y) as {{ hte_double() }}) as sum_y,
    cast(sum(y * y) as {{ hte_double() }}) as sum_y2,
    cast(overlap_start as {{ dbt.type_timestamp() }}) as overlap_start,
    cast(overlap_end as {{ dbt.type_timestamp() }}) as overlap_end
from unit_outcomes
group by experiment_id, other_experiment_id, metric, arm, other_arm, overlap_start, overlap_end
