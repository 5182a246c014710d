{{ config(materialized='table') }}
{#- int_hte_units written once as a table for the Python models. int_hte_units is a view (the SQL models never scan
    it), and every Python model reads it per comparison or experiment: through the view each read re-ran the joins to
    the assignments, features, segment levels and outcomes (9.4 s for one 600,000-unit comparison at 1M units),
    from this table a read is a filtered scan (1.6 s). Built only where Python models run. -#}
select * from {{ ref('int_hte_units') }}
