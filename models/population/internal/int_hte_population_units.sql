{{ config(materialized="table") }}
{#- The population as the scoring model reads it: one row per unit with its eligibility, its recent contacts and
    the frequency cap applied, and batch_id, the scoring batch. Batches are consecutive runs of unit ids of at most
    var hte_population_batch_size units, so a Python model reads one batch at a time (memory bounded whatever the
    population's size) and the batches' concatenation is in unit-id order (ties in a ranking policy are broken by
    unit id, whatever the batch size). -#}
{%- set cap = hte_population_frequency_cap() -%}
{%- set batch_size = hte_config_number('hte_population_batch_size',
    'be a whole number of units >= 1 (e.g. 200000)', at_least=1) -%}
{%- set run_day = "cast(" ~ hte_run_date_sql() ~ " as " ~ dbt.type_timestamp() ~ ")" -%}

with recent_contacts as (
    select unit_id, count(*) as n_recent_contacts
    from {{ ref('stg_hte_contact_history') }}
    {%- if cap is not none %}
    {#- The window is the cap's D days up to and including the run date. -#}
    where contacted_at >= {{ dbt.dateadd('day', -(cap['days'] | int) + 1, run_day) }}
      and contacted_at < {{ dbt.dateadd('day', 1, run_day) }}
      {%- if cap.get('channels') %}
      and channel in ({% for c in cap['channels'] %}{{ hte_string_literal(c) }}{{ ", " if not loop.last }}{% endfor %})
      {%- endif %}
    {%- else %}
    where 1 = 0
    {%- endif %}
    group by unit_id
)

-- the population input's columns pass through (its own feature columns, any number of them)
select
    p.*,  -- noqa: AM04
    coalesce(c.n_recent_contacts, 0) as n_recent_contacts,
    {{ "coalesce(c.n_recent_contacts, 0) >= " ~ (cap['max_contacts'] | int) if cap is not none else "false" }} as is_frequency_capped,
    cast(floor((row_number() over (order by p.unit_id) - 1) / {{ batch_size | int }}) as integer) as batch_id
from {{ ref('stg_hte_targeting_population') }} p
left join recent_contacts c on c.unit_id = p.unit_id
