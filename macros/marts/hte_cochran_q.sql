{#- Cochran's Q test of equal estimates (the fixed-effect heterogeneity test of meta-analysis), as a select over a
    relation or CTE name holding one row per estimate:

        select <key_columns>, n_estimates, pooled_estimate, statistic, df from relation   (one row per key)

        w_i = 1 / se_i²,  pooled = Σ w_i θ_i / Σ w_i,  Q = Σ w_i (θ_i − pooled)²,  df = k − 1.

    The estimates of one key must be independent (disjoint units) and every se must be positive: the caller keeps
    only usable rows. Keys with a single estimate get df 0 and Q 0; the caller decides whether that is a test.
    Q is summed from deviations around the pooled estimate, not as Σwθ² − (Σwθ)²/Σw, which cancels when the
    estimates are close. The p-value is P(χ²_df > Q) (macro hte_chi2_pvalues). Same formula as the per-dimension
    test of hte_dimension_tests, which calls it. -#}
{% macro hte_cochran_q(relation, key_columns, estimate, std_error) -%}
{%- if key_columns is string or (key_columns | length) == 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_cochran_q needs key_columns as a non-empty list of column names (got " ~ key_columns ~ ").") }}
{%- endif -%}
{#- each estimate with its weight: summed for the pooled estimate, then joined back for the deviations -#}
{%- set weighted -%}
select
    {{ hte_key_columns(key_columns) }},
    {{ estimate }} as hte_theta,
    1.0e0 / (({{ std_error }}) * ({{ std_error }})) as hte_w
from {{ relation }}
{%- endset %}
select
    {{ hte_key_columns(key_columns, 'hte_pooled') }},

    hte_pooled.n_estimates,
    hte_pooled.pooled_estimate,
    sum(hte_rows.hte_w * (hte_rows.hte_theta - hte_pooled.pooled_estimate) * (hte_rows.hte_theta - hte_pooled.pooled_estimate)) as statistic,
    hte_pooled.n_estimates - 1 as df
from (
    select
        {{ hte_key_columns(key_columns) }},

        count(*) as n_estimates,
        sum(hte_w * hte_theta) / sum(hte_w) as pooled_estimate
    from ({{ weighted }}) as hte_weighted
    group by {{ hte_key_columns(key_columns) }}
) as hte_pooled
join ({{ weighted }}) as hte_rows
    on {% for k in key_columns %}hte_rows.{{ k }} = hte_pooled.{{ k }}{% if not loop.last %}
    and {% endif %}{% endfor %}
group by
    {{ hte_key_columns(key_columns, 'hte_pooled') }},

    hte_pooled.n_estimates,
    hte_pooled.pooled_estimate
{%- endmacro %}
