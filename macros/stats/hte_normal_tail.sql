{#- Phi(-|z|): the probability beyond |z| in one tail, computed directly (never as 1 - Phi(|z|), which
    cancels to 0 for |z| > 8.3). Null for null and NaN z; 0 beyond |z| = 37.5 (Phi(-|z|) < 5e-309 is subnormal)
    and for infinite z. -#}
{% macro hte_normal_tail(z) %}{{ return(adapter.dispatch('hte_normal_tail', 'dbt_hte')(z)) }}{% endmacro %}

{% macro default__hte_normal_tail(z) -%}
{%- set y = 'abs(cast((' ~ z ~ ') as ' ~ hte_double() ~ '))' -%}
{%- set s = '(1.0e0 / (' ~ y ~ ' * ' ~ y ~ '))' -%}
{%- set density = hte_safe_exp('-0.5e0 * ' ~ y ~ ' * ' ~ y) -%}
(case
    when ({{ z }}) is null then null
    {#- NaN compares greater than every number on PostgreSQL and DuckDB, so without this branch it would fall
        through to 0 and a NaN statistic would look infinitely significant. 1 / z is 0 for +-infinity only. #}
    when not {{ hte_is_finite(z) }} then case when 1.0e0 / ({{ z }}) = 0 then 0.0e0 end
    {#- Below 1e-300 the answer is 1/2 to 300 digits; a subnormal y would underflow a product (an error on PostgreSQL). #}
    when {{ y }} < 1.0e-300 then 0.5e0
    when {{ y }} <= 6.6291e-1 then 0.5e0 - {{ hte_normal_center_offset(y) }}
    when {{ y }} <= 5.656854248e0 then
        ({{ hte_polynomial(y, ['1.0765576773720192317e-8', '3.9894151208813466764e-1', '8.8831497943883759412e0', '9.3506656132177855979e1', '5.9727027639480026226e2', '2.4945375852903726711e3', '6.8481904505362823326e3', '1.1602651437647350124e4', '9.8427148383839780218e3']) }})
        / ({{ hte_polynomial(y, ['1.0e0', '2.2266688044328115691e1', '2.3538790178262499861e2', '1.519377599407554805e3', '6.485558298266760755e3', '1.8615571640885098091e4', '3.4900952721145977266e4', '3.8912003286093271411e4', '1.9685429676859990727e4']) }})
        * {{ density }}
    when {{ y }} < 3.75e1 then
        (3.989422804014327e-1 - {{ s }} * ({{ hte_polynomial(s, ['2.307344176494017303e-2', '2.1589853405795699e-1', '1.274011611602473639e-1', '2.2235277870649807e-2', '1.421619193227893466e-3', '2.9112874951168792e-5']) }})
            / ({{ hte_polynomial(s, ['1.0e0', '1.28426009614491121e0', '4.68238212480865118e-1', '6.59881378689285515e-2', '3.78239633202758244e-3', '7.29751555083966205e-5']) }}))
        / {{ y }} * {{ density }}
    else 0.0e0
end)
{%- endmacro %}
