{#- One part of a stacked internal table (int_hte_uplift_evaluation: learners, curves, deciles; int_hte_targeting:
    units, policy_value) with exactly the columns documented for the calling model, in their documented order:
    the public table's schema is its YAML, whatever the data. -#}
{% macro hte_part_of(relation, part) -%}
{%- if execute and model.columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("hte_part_of: model " ~ model.name ~ " documents no columns.") }}
{%- endif %}
select
{%- for column in model.columns %}
    {{ adapter.quote(column) }}{{ "," if not loop.last }}
{%- endfor %}
from {{ relation }}
where part = {{ hte_string_literal(part) }}
{%- endmacro %}
