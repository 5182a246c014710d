{#- The CTEs a per-segment lift mart starts from (hte_segment_lifts, hte_segment_differences): each metric's
    practical thresholds, each treatment arm with its control, and the segment statistics. -#}
{% macro hte_segment_lift_inputs() -%}
thresholds as (
    {{ hte_practical_thresholds_relation() }}
),

treatment_arms as (
    {{ hte_treatment_arms() }}
),

stats as (
    select * from {{ ref('hte_segment_stats') }}
)
{%- endmacro %}
