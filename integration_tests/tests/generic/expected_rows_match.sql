{#- Declared on a seed of expected rows computed independently of dbt_hte: every row of the seed has a row of
    `actual` (restricted by `actual_where`) with the same `keys`, whose `columns` agree to `relative_tolerance`
    (relative to the expected value) and whose `exact_columns` are equal. Fails with the expected rows that are
    missing or differ, and says which. -#}
{% test expected_rows_match(model, actual, keys, columns=[], exact_columns=[], actual_where='1 = 1',
                            relative_tolerance=1e-9) %}
{%- set text = dbt.type_string() -%}
with actual_rows as (
    select * from {{ actual }} where {{ actual_where }}
)
select
    w.*,
    case when a.{{ keys[0] }} is null then 'no such row in {{ actual.identifier }}' else 'a value differs' end
        as problem
from {{ model }} w
left join actual_rows a
    on {% for key in keys %}cast(a.{{ key }} as {{ text }}) = cast(w.{{ key }} as {{ text }}){% if not loop.last %}
    and {% endif %}{% endfor %}
where a.{{ keys[0] }} is null
{%- for column in columns %}
    or a.{{ column }} is null
    or abs(cast(a.{{ column }} as double) - cast(w.{{ column }} as double))
        > {{ relative_tolerance }} * abs(cast(w.{{ column }} as double))
{%- endfor %}
{%- for column in exact_columns %}
    or cast(a.{{ column }} as {{ text }}) <> cast(w.{{ column }} as {{ text }})
{%- endfor %}
{% endtest %}
