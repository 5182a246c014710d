{#- The two weeks after the e-mail, in dbt_hte's long format: one row per customer × metric. -#}
{%- for metric in ['visit', 'conversion', 'spend'] %}
select
    'hillstrom_email' as experiment_id,
    unit_id,
    '{{ metric }}' as metric,
    cast({{ metric }} as double) as value
from {{ ref('hillstrom_customers') }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
