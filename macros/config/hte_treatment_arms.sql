{#- Each treatment arm of an experiment with the experiment's control arm: the comparisons every lift is made for. -#}
{% macro hte_treatment_arms() -%}
    select t.experiment_id, t.arm, c.arm as control_arm
    from {{ ref('stg_hte_experiments') }} t
    join {{ ref('stg_hte_experiments') }} c
        on c.experiment_id = t.experiment_id
        and c.is_control
    where not t.is_control
{%- endmacro %}
