{#- The pre-treatment covariates: the customer's last twelve months, known before the e-mail was sent. -#}
select
    'hillstrom_email' as experiment_id,
    unit_id,
    recency,
    history_segment,
    history,
    mens,
    womens,
    zip_code,
    newbie,
    channel,
    cast('{{ var("hillstrom_assigned_at") }}' as timestamp) as features_at
from {{ ref('hillstrom_customers') }}
