{{ config(materialized='table') }}
{#- Qini, uplift and TOC curves of every learner with bootstrap bands (python_models/uplift.yml): the 'curves' rows of the
    one evaluation pass, int_hte_uplift_evaluation, which computes all three evaluation tables from one bootstrap. -#}
{{ hte_part_of(ref('int_hte_uplift_evaluation'), 'curves') }}
