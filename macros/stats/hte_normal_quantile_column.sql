{#- Inverse standard normal CDF of a column, as a select over a relation or CTE name:

        select <every column of relation>, <helper columns hte_qc_*>, <quantile of p_col> as <out_col>

    The same algorithm as hte_normal_quantile (Acklam's start, one Halley step on Cody's CDF; relative error
    below 1e-13 for p in [1e-300, 1 - 1e-16]; null for p outside (0, 1)), for a p that differs per row.
    hte_normal_quantile is a scalar subquery over a constant: given a column it would become a correlated
    subquery, which Spark does not allow. Here each stage is a derived table over the relation instead, so each
    stage's expression is still written once. The adjusted intervals need it: their level alpha/m (Bonferroni,
    Holm) or R alpha/m (Benjamini-Yekutieli) depends on each family's size m and rejections R.

    The helper columns (hte_qc_t, hte_qc_sign, hte_qc_x0, hte_qc_u) come along, because "select * except" is not
    portable: the caller selects the columns it wants from the result. -#}
{% macro hte_normal_quantile_column(relation, p_col, out_col) -%}
{{ return(adapter.dispatch('hte_normal_quantile_column', 'dbt_hte')(relation, p_col, out_col)) }}
{%- endmacro %}

{% macro default__hte_normal_quantile_column(relation, p_col, out_col) -%}
{#- Acklam's rational approximations (identical coefficients to hte_normal_quantile in hte_normal_quantile.sql). -#}
{%- set tail_start -%}
    ({{ hte_polynomial('sqrt(-2.0e0 * ln(hte_qc_t))', ['-7.784894002430293e-3', '-3.223964580411365e-1',
        '-2.400758277161838e0', '-2.549732539343734e0', '4.374664141464968e0', '2.938163982698783e0']) }})
    / ({{ hte_polynomial('sqrt(-2.0e0 * ln(hte_qc_t))', ['7.784695709041462e-3', '3.224671290700398e-1', '2.445134137142996e0', '3.754408661907416e0', '1.0e0']) }})
{%- endset -%}
{%- set center_start -%}
    (hte_qc_t - 0.5e0) * ({{ hte_polynomial('(hte_qc_t - 0.5e0) * (hte_qc_t - 0.5e0)', ['-3.969683028665376e1',
        '2.209460984245205e2', '-2.759285104469687e2', '1.383577518672690e2', '-3.066479806614716e1',
        '2.506628277459239e0']) }})
    / ({{ hte_polynomial('(hte_qc_t - 0.5e0) * (hte_qc_t - 0.5e0)', ['-5.447609879822406e1', '1.615858368580409e2', '-1.556989798598866e2', '6.680131188771972e1', '-1.328068155288572e1', '1.0e0']) }})
{%- endset -%}
select
    hte_qc_step.*,
    case
        when hte_qc_t is null then null
        when hte_qc_t = 0.5e0 then 0.0e0
        else hte_qc_sign * (hte_qc_x0 - hte_qc_u / (1.0e0 + hte_qc_x0 * hte_qc_u / 2.0e0))
    end as {{ out_col }}
from (
    select
        hte_qc_start.*,
        {#- Halley's residual (Phi(x) - t) / phi(x); near the centre formed from two accurate differences. #}
        case when hte_qc_t is not null then
            (case
                when hte_qc_x0 >= -6.6291e-1 then {{ hte_normal_center_offset('hte_qc_x0') }} - (hte_qc_t - 0.5e0)
                else {{ hte_normal_tail('hte_qc_x0') }} - hte_qc_t
            end) * 2.5066282746310002e0 * exp(0.5e0 * hte_qc_x0 * hte_qc_x0)
        end as hte_qc_u
    from (
        select
            hte_qc_half.*,
            case
                when hte_qc_t is null then null
                when hte_qc_t < 2.425e-2 then {{ tail_start }}
                else {{ center_start }}
            end as hte_qc_x0
        from (
            {#- t is null outside (0, 1) so that ln() never sees 0 or a negative (PostgreSQL raises). #}
            select
                hte_qc_input.*,
                case when {{ p_col }} > 0 and {{ p_col }} < 1 then
                    case when {{ p_col }} < 0.5e0 then cast({{ p_col }} as {{ hte_double() }})
                         else 1.0e0 - cast({{ p_col }} as {{ hte_double() }}) end
                end as hte_qc_t,
                case when {{ p_col }} < 0.5e0 then 1.0e0 else -1.0e0 end as hte_qc_sign
            from {{ relation }} as hte_qc_input
            {{ hte_subquery_fence() }}
        ) as hte_qc_half
        {{ hte_subquery_fence() }}
    ) as hte_qc_start
    {{ hte_subquery_fence() }}
) as hte_qc_step
{%- endmacro %}
