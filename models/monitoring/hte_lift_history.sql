{#- One row set per run date: every row of hte_segment_lifts as it stood on that date (var hte_run_date, else
    today in UTC). Scheduled builds append a date; a rerun of a date replaces exactly that date's rows
    (delete+insert on run_date: the rows of the date are deleted, then the new ones inserted, in one transaction
    where the adapter has them), so another date's rows are never duplicated or lost, and a segment that no
    longer exists leaves no stale row behind.

    The inputs hold only their current state, so a --full-refresh rebuilds the history with the run date of that
    build alone: earlier dates cannot be recomputed (docs/monitoring.md). The model is enabled on adapters with
    the delete+insert strategy; its materialization, shared by the other histories, is set in monitoring.yml. -#}

{{ hte_history_rows(ref('hte_segment_lifts'), [
    'experiment_id', 'metric', 'dimension', 'segment', 'arm', 'control_arm', 'n_treatment', 'n_control',
    'mean_treatment', 'mean_control', 'lift_abs', 'lift_abs_se', 'lift_abs_ci_low', 'lift_abs_ci_high',
    'lift_abs_cs_low', 'lift_abs_cs_high', 'p_value', 'p_value_adj', 'p_value_sequential',
    'p_value_sequential_adj', 'lift_cuped', 'lift_cuped_se', 'lift_cuped_ci_low', 'lift_cuped_ci_high',
    'lift_cuped_cs_low', 'lift_cuped_cs_high', 'lift_cuped_p_value_sequential', 'verdict', 'verdict_fixed',
    'verdict_sequential', 'verdict_basis', 'alpha',
]) }}
