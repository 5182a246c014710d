{#- Each arm's mean and the squared standard error of that mean (s² / n, ddof 1), from the sums of a treatment
    arm (n_t, sum_y_t, sum_y2_t) and its control (n_c, sum_y_c, sum_y2_c) on one row: mean_t, mean_c, var_mean_t,
    var_mean_c. A mean is null without units and its variance under two; the centred sum carries the rounding
    guard of hte_centered_sum_of_squares. The Welch lift is then mean_t − mean_c with variance
    var_mean_t + var_mean_c. -#}
{% macro hte_arm_means() -%}
case when n_t > 0 then sum_y_t / n_t end as mean_t,
        case when n_c > 0 then sum_y_c / n_c end as mean_c,
        case when n_t > 1 then {{ hte_centered_sum_of_squares('n_t', 'sum_y_t', 'sum_y2_t') }} / (n_t - 1) / n_t end as var_mean_t,
        case when n_c > 1 then {{ hte_centered_sum_of_squares('n_c', 'sum_y_c', 'sum_y2_c') }} / (n_c - 1) / n_c end as var_mean_c
{%- endmacro %}
