{#- Segment values are compared as strings; a null feature value is its own, visible level, '(missing)'.

    '(missing)' (null) and '(other)' (folded rare levels) are labels dbt_hte gives; dashboards filter on them, so
    they stay as they are. A real feature value that reads like one of them must not merge into it silently: a
    value that is one of the labels once its double quotes are removed ('(missing)', '"(missing)"', '(other)',
    ...) is shown inside one more pair of double quotes ('"(missing)"', '""(missing)""', '"(other)"'). Every other
    value keeps its text. The relabelling is one-to-one and never yields a label: a relabelled value starts with
    a double quote, a label does not, and a value left as it is never reads like a label. -#}
{% macro hte_segment_value(expression) %}
  {%- set text = "cast(" ~ expression ~ " as " ~ dbt.type_string() ~ ")" -%}
  {%- set quote = "'" ~ '"' ~ "'" -%}  {#- the SQL literal of one double quote #}
  {{- return("case when " ~ text ~ " is null then '(missing)'"
             ~ " when " ~ dbt.replace(text, quote, "''") ~ " in ('(missing)', '(other)')"
             ~ " then " ~ quote ~ " || " ~ text ~ " || " ~ quote
             ~ " else " ~ text ~ " end") -}}
{% endmacro %}
