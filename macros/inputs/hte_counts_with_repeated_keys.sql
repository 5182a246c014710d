{#- The counting query (hte_count_problems) of an input that must have one row per key: the counts of the row
    rules (`conditions`, as for hte_rule_counts) over `rows_from`, the typed input under an alias (joined to
    what a rule needs), then n_repeated, how many keys of the typed select `typed` have more than one row. A
    group-by of its own: the repeats are counted per key, the rules per row. -#}
{% macro hte_counts_with_repeated_keys(conditions, rows_from, typed, key=['experiment_id', 'unit_id']) %}
  {{ return("select rows_found.*, units_found.n_repeated from (
        select " ~ hte_rule_counts(conditions) ~ "
        from " ~ rows_from ~ "
     ) rows_found
     cross join (
        select count(*) as n_repeated from (
            select " ~ key | join(', ') ~ " from (" ~ typed ~ ") t group by " ~ key | join(', ') ~ " having count(*) > 1
        ) repeated
     ) units_found") }}
{% endmacro %}
