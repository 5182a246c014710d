{#- Phi(y) - 1/2 for |y| <= 0.66291, without cancellation (Cody's first region: y times a rational function
    of y^2). The quantile refinement uses it directly so that quantiles near p = 1/2 keep relative accuracy. -#}
{% macro hte_normal_center_offset(y) -%}
{#- Cody skips y^2 below machine epsilon; here it must be skipped before it underflows, because PostgreSQL
    raises "value out of range: underflow" when a product of non-zero doubles rounds to 0. -#}
{%- set s = '(case when abs(' ~ y ~ ') < 1.0e-100 then 0.0e0 else (' ~ y ~ ') * (' ~ y ~ ') end)' -%}
(({{ y }}) * ({{ hte_polynomial(s, ['6.5682337918207449113e-2', '2.2352520354606839287e0', '1.6102823106855587881e2',
                                    '1.0676894854603709582e3', '1.8154981253343561249e4']) }})
 / ({{ hte_polynomial(s, ['1.0e0', '4.720258190468824187e1', '9.7609855173777669322e2', '1.0260932208618978205e4', '4.5507789335026729956e4']) }}))
{%- endmacro %}
