{#- The Welch lift of every row of `relation`, a CTE holding a treatment arm's and its control's count and sums
    (n_t, sum_y_t, sum_y2_t, n_c, sum_y_c, sum_y2_c): its columns, the arms' means and squared standard errors of
    the means (hte_arm_means), then lift_abs = mean_t − mean_c, lift_abs_var = var_mean_t + var_mean_c and
    lift_abs_se, its square root, as in hte_segment_lifts. -#}
{% macro hte_welch_lifts(relation) -%}
    select
        m.*,
        mean_t - mean_c as lift_abs,
        var_mean_t + var_mean_c as lift_abs_var,
        sqrt(var_mean_t + var_mean_c) as lift_abs_se
    from (
        select
            r.*,
            {{ hte_arm_means() }}
        from {{ relation }} r
    ) m
{%- endmacro %}
