{#- The multiple-testing step every segment model shares, as three CTE definitions (comma-separated, to place
    inside a model's `with`), over `tested` (a CTE with the segment-test keys experiment_id, metric, dimension,
    segment, arm, the p-value column and alpha):

        <prefix>family_tests   the rows that are in a family: p-value present and `where` true
        <prefix>adjusted       those rows with the adjusted p-value `out_col` (hte_p_adjust, var hte_p_adjust)
        <prefix>family_sizes   the keys, `out_col`, the family's size m and rejections R (hte_family_counts),
                               which set the level of the adjusted interval (hte_adjusted_level)

    Rows outside a family (too small, the pre-specified overall test) get no adjusted p-value from it; each model
    says what they get instead. -#}
{% macro hte_family_adjustment(tested, family, method, where='true', p_col='p_value', out_col='p_value_adj', prefix='') -%}
{{ prefix }}family_tests as (
    select *
    from {{ tested }}
    where {{ p_col }} is not null
        and ({{ where }})
),

{{ prefix }}adjusted as (
    {{ hte_p_adjust(prefix ~ 'family_tests', p_col, family, method, out_col=out_col) }}
),

{{ prefix }}family_sizes as (
    {{ hte_family_counts(prefix ~ 'adjusted', family, p_value_adj=out_col) }}
)
{%- endmacro %}
