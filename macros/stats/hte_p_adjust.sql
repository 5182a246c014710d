{#- Multiple-testing adjustment of a column of p-values, as a select over a relation or CTE name:

        select <every column of relation>, <adjusted p-value> as <out_col> from relation

    Families are the groups of partition_by (a list of column names; empty = one family). Rows whose p-value is
    null or not finite get a null adjusted p-value and do not count in the family size m. Equals
    statsmodels.stats.multitest.multipletests(p, method=...)[1], ties and p = 1 included:
        bonferroni   min(1, m p)
        holm         adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))        (Holm 1979, step-down)
        bh           adj_(i) = min_{j >= i} min(1, m p_(j) / j)              (Benjamini-Hochberg 1995, step-up)

    Why a join and not one window expression: Holm and BH are running extrema of a function of the rank, a
    window over a window, which SQL only allows through a subquery, and a subquery would leave its helper
    columns in "every column of relation" (select * except is not portable). Because tied p-values get equal
    adjusted values under both methods, the adjustment is a function of (family, p-value) alone; it is
    computed once per distinct p-value in a family, from the tie count c and the number of p-values at or
    below it (n_le), then joined back on the family keys and the p-value:
        holm  the first of a block of ties has rank j = n_le - c + 1, so (m - j + 1) p = (m - n_le + c) p;
        bh    the last of a block has rank j = n_le, so m p / j = p / (n_le / m) (statsmodels' rounding order).
    No tie-break column is needed and the result is deterministic. -#}
{% macro hte_p_adjust(relation, p_col, partition_by=[], method='holm', out_col='p_value_adj') -%}
{{ return(adapter.dispatch('hte_p_adjust', 'dbt_hte')(relation, p_col, partition_by, method, out_col)) }}
{%- endmacro %}

{% macro default__hte_p_adjust(relation, p_col, partition_by, method, out_col) -%}
{%- set methods = ['holm', 'bh', 'bonferroni'] -%}
{%- if method not in methods -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: unknown multiple-testing method '" ~ method ~ "' (var hte_p_adjust). "
        ~ "Set hte_p_adjust to one of: holm, bh, bonferroni.") }}
{%- endif -%}
{%- if partition_by is string -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_p_adjust expects partition_by as a list of column names, got the string '"
        ~ partition_by ~ "'. Write partition_by=['" ~ partition_by ~ "'].") }}
{%- endif -%}
{%- set keys = partition_by | list -%}
{%- set family -%}
{%- if keys | length > 0 %}partition by {% for k in keys %}hte_key_{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}{% endif -%}
{%- endset -%}
{%- if method == 'bonferroni' -%}
    {%- set raw = 'hte_p * hte_m' -%}
    {%- set running = 'hte_raw' -%}
{%- elif method == 'holm' -%}
    {%- set raw = '(hte_m - hte_n_le + hte_n_tied) * hte_p' -%}
    {%- set running = 'max(hte_raw) over (' ~ family ~ ' order by hte_p rows between unbounded preceding and current row)' -%}
{%- else -%}
    {%- set raw = 'hte_p / (cast(hte_n_le as ' ~ hte_double() ~ ') / hte_m)' -%}
    {%- set running = 'min(hte_raw) over (' ~ family ~ ' order by hte_p rows between current row and unbounded following)' -%}
{%- endif -%}
select
    hte_input.*,
    hte_adjusted.hte_p_adj as {{ out_col }}
from {{ relation }} as hte_input
left join (
    select
        {% for k in keys %}hte_key_{{ loop.index }},
        {% endfor -%}
        hte_p,
        least({{ running }}, 1.0e0) as hte_p_adj
    from (
        select
            {% for k in keys %}hte_key_{{ loop.index }},
            {% endfor -%}
            hte_p,
            {{ raw }} as hte_raw
        from (
            select
                {% for k in keys %}hte_key_{{ loop.index }},
                {% endfor -%}
                hte_p,
                hte_n_tied,
                sum(hte_n_tied) over ({{ family }} order by hte_p rows between unbounded preceding and current row) as hte_n_le,
                sum(hte_n_tied) over ({{ family }}) as hte_m
            from (
                select
                    {% for k in keys %}{{ k }} as hte_key_{{ loop.index }},
                    {% endfor -%}
                    {{ p_col }} as hte_p,
                    count(*) as hte_n_tied
                from {{ relation }}
                where {{ hte_is_finite(p_col) }}
                group by {% for k in keys %}{{ k }}, {% endfor %}{{ p_col }}
            ) as hte_p_values
        ) as hte_p_ranks
    ) as hte_p_raw
) as hte_adjusted
    on {% for k in keys %}{{ hte_null_safe_equal('hte_input.' ~ k, 'hte_adjusted.hte_key_' ~ loop.index) }}
    and {% endfor %}hte_input.{{ p_col }} = hte_adjusted.hte_p
{%- endmacro %}
