{#- The design: three arms randomised in equal thirds, no e-mail as the control. -#}
select
    'hillstrom_email' as experiment_id,
    arm,
    arm = 'no_email' as is_control,
    cast(1 as double) / 3 as expected_share
from (values ('no_email'), ('mens_email'), ('womens_email')) as arms (arm)
