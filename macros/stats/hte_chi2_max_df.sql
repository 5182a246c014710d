{#- Largest degrees of freedom hte_chi2_pvalues supports: the term table has hte_chi2_max_df() / 2 rows. -#}
{% macro hte_chi2_max_df() %}{{ return(2000) }}{% endmacro %}
