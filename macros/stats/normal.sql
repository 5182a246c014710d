{#- Standard normal distribution in portable SQL.

    The CDF is W. J. Cody's rational Chebyshev approximation (Cody 1969, "Rational Chebyshev approximations for
    the error function", Math. Comp. 23, 631-637; as packaged in ACM TOMS Algorithm 715, the algorithm behind
    R's pnorm). Three regions of |z|, each a ratio of two polynomials; the two outer ones times exp(-z^2/2).
    Against scipy.stats.norm.cdf: absolute error below 3e-16 everywhere, relative error of the tail
    Phi(-|z|) below 2e-14 for |z| <= 8 and below 3e-13 up to |z| = 37.5. Hart's algorithm 5666 (Graeme West
    2005) is shorter but its tail is only accurate to 1e-8 relative, which the quantile refinement would inherit.

    The CDF macros are expressions that repeat their argument many times: pass a column name (or a short
    expression), not a subquery. Constants are written with an exponent (1.5e0) so that DuckDB, Spark and
    Snowflake read them as doubles, not as fixed-point decimals. -#}


{#- Horner evaluation of c[0]*x^(n-1) + ... + c[n-1]. -#}
{% macro hte_polynomial(x, coefficients) -%}
{%- set ns = namespace(expr=coefficients[0]) -%}
{%- for c in coefficients[1:] -%}
{%- set ns.expr = '(' ~ ns.expr ~ ') * (' ~ x ~ ') + ' ~ c -%}
{%- endfor -%}
{{ return(ns.expr) }}
{%- endmacro %}


{#- Phi(y) - 1/2 for |y| <= 0.66291, without cancellation (Cody's first region: y times a rational function
    of y^2). The quantile refinement uses it directly so that quantiles near p = 1/2 keep relative accuracy. -#}
{% macro hte_normal_center_offset(y) -%}
{#- Cody skips y^2 below machine epsilon; here it must be skipped before it underflows, because PostgreSQL
    raises "value out of range: underflow" when a product of non-zero doubles rounds to 0. -#}
{%- set s = '(case when abs(' ~ y ~ ') < 1.0e-100 then 0.0e0 else (' ~ y ~ ') * (' ~ y ~ ') end)' -%}
(({{ y }}) * ({{ hte_polynomial(s, ['6.5682337918207449113e-2', '2.2352520354606839287e0', '1.6102823106855587881e2', '1.0676894854603709582e3', '1.8154981253343561249e4']) }})
 / ({{ hte_polynomial(s, ['1.0e0', '4.720258190468824187e1', '9.7609855173777669322e2', '1.0260932208618978205e4', '4.5507789335026729956e4']) }}))
{%- endmacro %}


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


{#- Standard normal CDF Phi(z); 0 below -37.5 and 1 above 37.5 (like scipy, whose values there differ from
    0 and 1 by less than 5e-309); null for null and NaN z. -#}
{% macro hte_normal_cdf(z) %}{{ return(adapter.dispatch('hte_normal_cdf', 'dbt_hte')(z)) }}{% endmacro %}

{% macro default__hte_normal_cdf(z) -%}
(case when ({{ z }}) > 0 then 1.0e0 - {{ hte_normal_tail(z) }} else {{ hte_normal_tail(z) }} end)
{%- endmacro %}


{#- Two-sided p-value of a z statistic, 2 * Phi(-|z|): exact in the far tail, where 2 * (1 - Phi(|z|)) would
    round to 0 for |z| > 8.3. -#}
{% macro hte_normal_two_sided_p(z) %}{{ return(adapter.dispatch('hte_normal_two_sided_p', 'dbt_hte')(z)) }}{% endmacro %}

{% macro default__hte_normal_two_sided_p(z) -%}
(2.0e0 * {{ hte_normal_tail(z) }})
{%- endmacro %}


{#- Inverse standard normal CDF for 0 < p < 1 (null for null p and for p outside (0, 1)).

    Peter J. Acklam's rational approximation (relative error < 1.15e-9) for the lower half t = min(p, 1 - p)
    (1 - p is exact in floating point for p >= 1/2), then one Halley step x - u / (1 + x u / 2) with
    u = (Phi(x) - t) / phi(x). Halley's step is cubically convergent, so the result is as accurate as Phi
    itself: relative error below 1e-13 for p in [1e-300, 1 - 1e-16]. Near the centre the residual Phi(x) - t is
    formed as (Phi(x) - 1/2) - (t - 1/2), both terms accurate, so quantiles of p close to 1/2 keep their relative
    accuracy too.

    The result is a scalar subquery over nested derived tables, so that each stage (t, Acklam's x, Halley's u)
    is written once: as one flat expression it would repeat p some 5,000 times (750 kB of SQL). Pass a constant
    expression such as 1 - {{ var('hte_alpha') }} / 2 (models need z_{1 - alpha/2} once per build); a p that
    refers to columns of the enclosing query makes the subquery correlated, which Spark does not allow.
    hte_subquery_fence() keeps PostgreSQL from merging the stages back into one expression. -#}
{% macro hte_normal_quantile(p) %}{{ return(adapter.dispatch('hte_normal_quantile', 'dbt_hte')(p)) }}{% endmacro %}

{% macro default__hte_normal_quantile(p) -%}
(select
    case
        when hte_t is null then null
        when hte_t = 0.5e0 then 0.0e0
        else hte_sign * (hte_x0 - hte_u / (1.0e0 + hte_x0 * hte_u / 2.0e0))
    end
from (
    select
        hte_t,
        hte_sign,
        hte_x0,
        (case
            when hte_x0 >= -6.6291e-1 then {{ hte_normal_center_offset('hte_x0') }} - (hte_t - 0.5e0)
            else {{ hte_normal_tail('hte_x0') }} - hte_t
        end) * 2.5066282746310002e0 * exp(0.5e0 * hte_x0 * hte_x0) as hte_u
    from (
        select
            hte_t,
            hte_sign,
            case
                when hte_t < 2.425e-2 then
                    ({{ hte_polynomial('sqrt(-2.0e0 * ln(hte_t))', ['-7.784894002430293e-3', '-3.223964580411365e-1', '-2.400758277161838e0', '-2.549732539343734e0', '4.374664141464968e0', '2.938163982698783e0']) }})
                    / ({{ hte_polynomial('sqrt(-2.0e0 * ln(hte_t))', ['7.784695709041462e-3', '3.224671290700398e-1', '2.445134137142996e0', '3.754408661907416e0', '1.0e0']) }})
                else
                    (hte_t - 0.5e0) * ({{ hte_polynomial('(hte_t - 0.5e0) * (hte_t - 0.5e0)', ['-3.969683028665376e1', '2.209460984245205e2', '-2.759285104469687e2', '1.383577518672690e2', '-3.066479806614716e1', '2.506628277459239e0']) }})
                    / ({{ hte_polynomial('(hte_t - 0.5e0) * (hte_t - 0.5e0)', ['-5.447609879822406e1', '1.615858368580409e2', '-1.556989798598866e2', '6.680131188771972e1', '-1.328068155288572e1', '1.0e0']) }})
            end as hte_x0
        from (
            {#- t is null outside (0, 1) so that ln() never sees 0 or a negative (PostgreSQL raises). #}
            select
                case when hte_p > 0 and hte_p < 1 then
                    case when hte_p < 0.5e0 then hte_p else 1.0e0 - hte_p end
                end as hte_t,
                case when hte_p < 0.5e0 then 1.0e0 else -1.0e0 end as hte_sign
            from (select cast(({{ p }}) as {{ hte_double() }}) as hte_p {{ hte_subquery_fence() }}) as hte_quantile_input
            {{ hte_subquery_fence() }}
        ) as hte_quantile_half
        {{ hte_subquery_fence() }}
    ) as hte_quantile_start
    {{ hte_subquery_fence() }}
) as hte_quantile_step)
{%- endmacro %}
