{#- One row per customer: the e-mail each was randomised to. An unexpected `segment` value passes through
    unchanged, so dbt_hte stops the build with "an arm not declared in hte_experiments" and names it. -#}
select
    'hillstrom_email' as experiment_id,
    unit_id,
    case segment
        when 'No E-Mail' then 'no_email'
        when 'Mens E-Mail' then 'mens_email'
        when 'Womens E-Mail' then 'womens_email'
        else segment
    end as arm,
    cast('{{ var("hillstrom_assigned_at") }}' as timestamp) as assigned_at
from {{ ref('hillstrom_customers') }}
