{#- Generic test: every non-null value of `column_name` is a probability, 0 <= value <= 1 (NaN fails too:
    it is neither). For p-values, adjusted p-values and shares. -#}
{% test hte_probability(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and not ({{ column_name }} >= 0 and {{ column_name }} <= 1)
{% endtest %}
