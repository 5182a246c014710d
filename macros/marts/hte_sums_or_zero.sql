{#- A cell's count and sums of y and y² as columns n`suffix`, sum_y`suffix`, sum_y2`suffix`, from `alias`, a
    left-joined cell: 0 where the cell has no row, so an arm with no unit in a cell counts 0 units rather than
    disappearing (hte_arm_means then gives it no mean). -#}
{% macro hte_sums_or_zero(alias, suffix) -%}
coalesce({{ alias }}.n, 0) as n{{ suffix }},
        coalesce({{ alias }}.sum_y, 0.0e0) as sum_y{{ suffix }},
        coalesce({{ alias }}.sum_y2, 0.0e0) as sum_y2{{ suffix }}
{%- endmacro %}
