{#- The one aggregation pass over the unit table: summable sufficient statistics per experiment × metric × arm ×
    full cross-classification of the segment columns. Segment-level statistics are rolled up from these cells
    (hte_segment_stats), and interaction regressions on categorical segments are fit exactly from them: OLS with
    categorical regressors needs only n, Σy and Σy² per cell (and Σx, Σx², Σxy for a pre-period covariate). -#}
{%- set segment_columns = hte_segment_columns() -%}

select
    experiment_id,
    metric,
    arm
    {%- for column in segment_columns %},
    {{ adapter.quote(column) }}
    {%- endfor %},
    count(*) as n,
    sum(y) as sum_y,
    sum(y * y) as sum_y2,
    sum(x) as sum_x,
    sum(x * x) as sum_x2,
    sum(x * y) as sum_xy,
    case when count(x) = count(*) then true else false end as has_pre_period
from {{ ref('int_hte_units') }}
group by
    experiment_id,
    metric,
    arm
    {%- for column in segment_columns %},
    {{ adapter.quote(column) }}
    {%- endfor %}
