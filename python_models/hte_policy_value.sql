{{ config(materialized='table') }}
{#- Per experiment x policy: doubly-robust incremental value with its interval, and the budget curve
    (python_models/targeting.yml): the 'policy_value' rows of the one targeting pass, int_hte_targeting. -#}
{{ hte_part_of(ref('int_hte_targeting'), 'policy_value') }}
