{{ config(materialized='table') }}
{#- Calibration lookup per learner and decile of predicted effect (python_models/uplift.yml): the 'deciles' rows of the
    one evaluation pass, int_hte_uplift_evaluation, which computes all three evaluation tables from one bootstrap. -#}
{{ hte_part_of(ref('int_hte_uplift_evaluation'), 'deciles') }}
