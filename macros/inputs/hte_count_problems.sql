{#- One row of counts, one per rule, from a single pass over an input: sums of `case when <rule> then 1 else 0
    end`. Returns n_rules zeros at parse time, when no query may run. -#}
{% macro hte_count_problems(count_sql, n_rules) %}
  {%- set counts = [] -%}
  {%- if not execute -%}
    {%- for _ in range(n_rules) -%}{%- do counts.append(0) -%}{%- endfor -%}
    {{ return(counts) }}
  {%- endif -%}
  {%- set row = run_query(count_sql).rows[0] -%}
  {%- for value in row -%}{%- do counts.append((value or 0) | int) -%}{%- endfor -%}
  {{ return(counts) }}
{% endmacro %}
