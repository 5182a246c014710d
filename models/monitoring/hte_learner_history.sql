{#- One row set per run date: the learner each ok comparison's targeting uses (hte_learner_evaluation.is_chosen)
    as chosen that day, so hte_alerts can tell when the choice changed. Same incremental contract as
    hte_lift_history: delete+insert on run_date, one row set per date, a rerun replaces its date only. -#}
{{ config(enabled=hte_monitors_learner_choice()) }}

{{ hte_history_rows(ref('hte_learner_evaluation'), [
    'experiment_id', 'metric', 'arm', 'control_arm', 'learner', 'heterogeneity_detected', 'qini_coefficient',
    'qini_coefficient_ci_low', 'qini_coefficient_ci_high', 'choice_reason',
], where='is_chosen') }}
