{#- The size m and the rejections R of each test's multiple-testing family, beside its adjusted p-value, as a
    select over `adjusted` (the output of hte_p_adjust over the family's tests, keyed like every segment test by
    experiment_id, metric, dimension, segment, arm). m and R set the level of the test's adjusted interval (macro
    hte_adjusted_level: alpha / m for Bonferroni and Holm, R alpha / m for Benjamini-Yekutieli's FCR interval). -#}
{% macro hte_family_counts(adjusted, family, p_value_adj='p_value_adj', alpha='alpha') -%}
    select
        experiment_id, metric, dimension, segment, arm, {{ p_value_adj }},
        count(*) over (partition by {{ family | join(', ') }}) as family_size,
        sum(case when {{ p_value_adj }} < {{ alpha }} then 1 else 0 end)
            over (partition by {{ family | join(', ') }}) as family_rejections
    from {{ adjusted }}
{%- endmacro %}
