{{ config(materialized='table') }}
{#- Each learner's out-of-fold evaluation per comparison (python_models/uplift.yml): the 'learners' rows of the
    one evaluation pass, int_hte_uplift_evaluation, which computes all three evaluation tables from one bootstrap. -#}
{{ hte_part_of(ref('int_hte_uplift_evaluation'), 'learners') }}
