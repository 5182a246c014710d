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
