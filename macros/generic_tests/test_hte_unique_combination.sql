{#- Generic test: no two rows of `model` share the values of `columns` (the model's grain). Null keys count as
    equal, as group by treats them, so a check row without a dimension is still a single key. Uses dbt core only
    (dbt_utils.unique_combination_of_columns does the same, but the package must not depend on dbt_utils).
    plus_segment_columns: true appends the columns of var hte_segment_columns (quoted), for hte_cell_stats,
    whose grain is the full cross-classification of the configured segment columns. -#}
{% test hte_unique_combination(model, columns, plus_segment_columns=false) %}
{%- if columns is string or columns | length == 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: test hte_unique_combination on " ~ model ~ " needs arguments: columns as a non-empty list of "
        ~ "column names, e.g. columns: [experiment_id, metric].") }}
{%- endif -%}
{%- set keys = columns | list -%}
{%- if plus_segment_columns -%}
    {%- for column in hte_segment_columns() -%}{%- do keys.append(adapter.quote(column)) -%}{%- endfor -%}
{%- endif %}
select
    {{ keys | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ keys | join(', ') }}
having count(*) > 1
{% endtest %}
