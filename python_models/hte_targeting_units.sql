{{ config(materialized='table') }}
{#- Per experiment x unit: the deployed policy's arm, expected net value, decision and reason (python_models/
    targeting.yml): the 'units' rows of the one targeting pass, int_hte_targeting. -#}
{{ hte_part_of(ref('int_hte_targeting'), 'units') }}
