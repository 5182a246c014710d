{#- One part of int_hte_uplift_evaluation (learners, curves or deciles) with exactly the columns documented for the
    calling model, in their documented order: the public table's schema is its YAML, whatever the data. -#}
{% macro hte_evaluation_part(part) -%}
{%- if execute and model.columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("hte_evaluation_part: model " ~ model.name ~ " documents no columns.") }}
{%- endif %}
select
{%- for column in model.columns %}
    {{ adapter.quote(column) }}{{ "," if not loop.last }}
{%- endfor %}
from {{ ref('int_hte_uplift_evaluation') }}
where part = {{ hte_string_literal(part) }}
{%- endmacro %}
