{#- Chi-square survival function Q(x; k) = P(X > x) for X ~ chi2(k), integer k, as a select over a relation:

        select <key_columns>, <p-value> as <out_col> from relation      (one row per row of relation)

    SQL has no incomplete gamma function, but for integer k the survival function has a closed form
    (Abramowitz & Stegun 26.4.4 and 26.4.5), with s = x / 2:
        even k:  Q = sum_{i=0}^{k/2-1} exp(-s) s^i / i!
        odd k:   Q = erfc(sqrt(s)) + sum_{i=0}^{(k-3)/2} exp(-s) s^(i+1/2) / Gamma(i + 3/2),
    where erfc(sqrt(s)) = 2 Phi(-sqrt(x)) (hte_normal_two_sided_p). Both sums have floor(k/2) positive terms:
    no cancellation. Each term is exp(-s + a ln s - ln Gamma(a + 1)), and ln Gamma comes from a table of running
    sums of logarithms (ln i! = sum ln j, ln Gamma(i + 3/2) = ln Gamma(3/2) + sum ln(j + 1/2)): PostgreSQL has no
    lgamma. The table is joined to the distinct (statistic, df) pairs only, then the p-values are joined back.

    Null p-value: null, NaN or infinite statistic; df null, not a whole number, below 1 or above 2000 (the table
    holds 1000 terms). A statistic <= 1e-300 gives 1 (exact in double precision; scipy also gives 1 below 0).
    Accuracy against scipy.stats.chi2.sf: absolute error below 1e-12 for df 1..200 and x in [0, 2000]; it
    degrades slowly with df (the exponent is a difference of numbers of size k ln x) to about 1e-11 at df 2000.

    statistic and df are column names or expressions over the relation's columns; key_columns is a non-empty
    list of column names carried through that determines the (statistic, df) of a row (rows repeating a key must
    repeat its statistic and df; each still gets its own output row). -#}
{% macro hte_chi2_pvalues(relation, key_columns, statistic='statistic', df='df', out_col='p_value') -%}
{{ return(adapter.dispatch('hte_chi2_pvalues', 'dbt_hte')(relation, key_columns, statistic, df, out_col)) }}
{%- endmacro %}

{% macro default__hte_chi2_pvalues(relation, key_columns, statistic, df, out_col) -%}
{%- if key_columns is string or (key_columns | length) == 0 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_chi2_pvalues needs key_columns as a non-empty list of column names to carry through "
        ~ "(got " ~ key_columns ~ "), e.g. key_columns=['experiment_id', 'dimension'].") }}
{%- endif -%}
{#- Below x = 1e-300, Q = 1 to double precision for every df (1 - Q < 1e-150); skipping those x also keeps a
    subnormal x out of products, which PostgreSQL rejects as an underflow. -#}
{%- set x_ok = hte_is_finite('hte_pairs.hte_x') ~ ' and hte_pairs.hte_x > 1.0e-300' -%}
select
    {{ hte_key_columns(key_columns, 'hte_rows') }},

    hte_chi2.hte_p_value as {{ out_col }}
from (
    select
        {{ hte_key_columns(key_columns) }},

        {{ statistic }} as hte_statistic,
        {{ df }} as hte_df
    from {{ relation }}
) as hte_rows
left join (
    select
        {{ hte_key_columns(key_columns) }},

        case
            when hte_k is null or not {{ hte_is_finite('hte_x') }} then null
            when hte_x <= 1.0e-300 then 1.0e0
            else least(
                1.0e0,
                coalesce(hte_series, 0.0e0)
                    + case when hte_half > 0 then {{ hte_normal_two_sided_p('sqrt(hte_x)') }} else 0.0e0 end
            )
        end as hte_p_value
    from (
        select
            {{ hte_key_columns(key_columns, 'hte_pairs') }},

            hte_pairs.hte_statistic,
            hte_pairs.hte_df,
            hte_pairs.hte_x,
            hte_pairs.hte_k,
            hte_pairs.hte_half,
            {#- The case keeps ln() away from the null-extended rows of pairs without terms (x <= 1e-300 among
                them): PostgreSQL evaluates the argument there and raises on ln(0). #}
            sum(case when hte_terms.hte_i is not null then {{ hte_safe_exp(
                '-0.5e0 * hte_pairs.hte_x + (hte_terms.hte_i + hte_pairs.hte_half) * ln(0.5e0 * hte_pairs.hte_x) '
                ~ '- case when hte_pairs.hte_half = 0 then hte_terms.hte_ln_factorial else hte_terms.hte_ln_gamma_half end') }} end) as hte_series
        from (
            select
                {{ hte_key_columns(key_columns) }},

                hte_statistic,
                hte_df,
                cast(hte_statistic as {{ hte_double() }}) as hte_x,
                hte_k,
                {#- 0 for even k, 1/2 for odd k: the exponent offset a - i of the terms. #}
                cast(hte_k as {{ hte_double() }}) / 2 - floor(cast(hte_k as {{ hte_double() }}) / 2) as hte_half
            from (
                select
                    {{ hte_key_columns(key_columns) }},

                    hte_statistic,
                    hte_df,
                    {#- Test for a whole number before casting: cast(3.7 as int) truncates on Spark, rounds elsewhere. #}
                    case
                        when hte_df >= 1 and hte_df <= {{ hte_chi2_max_df() }} and hte_df = floor(hte_df)
                            then cast(hte_df as integer)
                    end as hte_k
                from (
                    select distinct
                        {{ hte_key_columns(key_columns) }},

                        {{ statistic }} as hte_statistic, {{ df }} as hte_df
                    from {{ relation }}
                    where {{ statistic }} is not null and {{ df }} is not null
                ) as hte_distinct_pairs
            ) as hte_whole_df
        ) as hte_pairs
        left join (
            {#- ln Gamma(3/2) = ln(sqrt(pi) / 2) = -0.12078223763524522. #}
            select
                hte_i,
                sum(case when hte_i = 0 then 0.0e0 else ln(cast(hte_i as {{ hte_double() }})) end)
                    over (order by hte_i rows between unbounded preceding and current row) as hte_ln_factorial,
                -1.2078223763524522e-1
                    + sum(case when hte_i = 0 then 0.0e0 else ln(hte_i + 0.5e0) end)
                    over (order by hte_i rows between unbounded preceding and current row) as hte_ln_gamma_half
            from ({{ hte_integers(3) }}) as hte_integers
        ) as hte_terms
            on 2 * hte_terms.hte_i + 2 <= hte_pairs.hte_k and {{ x_ok }}
        group by
            {{ hte_key_columns(key_columns, 'hte_pairs') }},

            hte_pairs.hte_statistic, hte_pairs.hte_df, hte_pairs.hte_x, hte_pairs.hte_k, hte_pairs.hte_half
    ) as hte_series_by_pair
) as hte_chi2
    {#- Joined back on the keys, never on the statistic's value: Spark evaluates the relation once per reference, and
        an order-dependent sum can differ in its last bit between the two evaluations (seen: a null p-value). #}
    on {% for k in key_columns %}{{ hte_null_safe_equal('hte_rows.' ~ k, 'hte_chi2.' ~ k) }}{% if not loop.last %}
    and {% endif %}{% endfor %}
{%- endmacro %}
