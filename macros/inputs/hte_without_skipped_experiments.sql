{#- A staged input without the experiments hte_skipped_experiments leaves out (var hte_on_invalid_experiment:
    skip); with the default `error` that table is empty and this is the whole input. An anti-join rather than
    NOT IN: a row whose experiment_id is null is kept (and stopped by the rules), never dropped by the filter. -#}
{% macro hte_without_skipped_experiments(typed) %}
select staged.*
from ({{ typed }}) staged
where not exists (
    select 1 from {{ ref('hte_skipped_experiments') }} skipped
    where skipped.experiment_id = staged.experiment_id
)
{% endmacro %}
