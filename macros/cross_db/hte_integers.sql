{#- The integers 0 .. 10^n_digits - 1 as a select with one column, hte_i. Built from cross joins of a 10-row
    union so that it runs everywhere: generate_series / range / sequence are spelled differently on every
    engine. An adapter with a native generator may override default__hte_integers. -#}
{% macro hte_integers(n_digits) %}{{ return(adapter.dispatch('hte_integers', 'dbt_hte')(n_digits)) }}{% endmacro %}

{% macro default__hte_integers(n_digits) -%}
{%- if n_digits < 1 -%}
    {{ exceptions.raise_compiler_error("dbt_hte: hte_integers needs n_digits >= 1, got " ~ n_digits ~ ".") }}
{%- endif -%}
select
    {% for d in range(n_digits) %}{{ "hte_digit_" ~ d ~ ".hte_d" ~ (" * " ~ 10 ** d if d > 0 else "") }}{{ " + " if not loop.last }}{% endfor %} as hte_i
from
    {% for d in range(n_digits) -%}
    (select 0 as hte_d union all select 1 union all select 2 union all select 3 union all select 4
     union all select 5 union all select 6 union all select 7 union all select 8 union all select 9) as hte_digit_{{ d }}
    {{- "\n    cross join " if not loop.last }}
    {%- endfor %}
{%- endmacro %}
