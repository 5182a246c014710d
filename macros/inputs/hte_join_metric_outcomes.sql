{#- The joins that give every unit (alias u) a row per metric of its experiment (CTE experiment_metrics, alias m)
    with its outcome row of that metric where it has one (alias o; none: the caller's coalesce makes y 0). -#}
{% macro hte_join_metric_outcomes() -%}
join experiment_metrics m
    on m.experiment_id = u.experiment_id
left join {{ ref('stg_hte_outcomes') }} o
    on o.experiment_id = u.experiment_id
    and o.unit_id = u.unit_id
    and o.metric = m.metric
{%- endmacro %}
