{#- The from clause of a lift mart's paired rows: every row of `keys` (alias k) × every treatment arm of its
    experiment (alias a, from the model's treatment_arms CTE, hte_treatment_arms), with the arm's cell (alias t) and
    its control arm's cell (alias c) of `cells` on `key_columns`, left-joined so an arm with no unit in a cell still
    gets its row (hte_sums_or_zero then counts it as 0 units). -#}
{% macro hte_paired_cells(keys, cells, key_columns) -%}
from {{ keys }} k
    join treatment_arms a
        on a.experiment_id = k.experiment_id
    left join {{ cells }} t
        on {{ hte_same_keys('t', 'k', key_columns) }} and t.arm = a.arm
    left join {{ cells }} c
        on {{ hte_same_keys('c', 'k', key_columns) }} and c.arm = a.control_arm
{%- endmacro %}
