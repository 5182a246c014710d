{#- The one-row interval parameters every test mart shares (computed once per build): alpha, z_{1-alpha/2} and
    z_tost = z_{1-alpha}, the critical value of the (1 - 2 alpha) interval, which is the equivalence test (TOST) at
    level alpha. -#}
{% macro hte_interval_params(alpha) -%}
    select
        {{ hte_double_literal(alpha) }} as alpha,
        {{ hte_normal_quantile('1.0e0 - ' ~ hte_double_literal(alpha) ~ ' / 2.0e0') }} as z_critical,
        {{ hte_normal_quantile('1.0e0 - ' ~ hte_double_literal(alpha)) }} as z_tost
{%- endmacro %}
