{#- Horner evaluation of c[0]*x^(n-1) + ... + c[n-1]. -#}
{% macro hte_polynomial(x, coefficients) -%}
{%- set ns = namespace(expr=coefficients[0]) -%}
{%- for c in coefficients[1:] -%}
{%- set ns.expr = '(' ~ ns.expr ~ ') * (' ~ x ~ ') + ' ~ c -%}
{%- endfor -%}
{{ return(ns.expr) }}
{%- endmacro %}
