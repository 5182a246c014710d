{#- Past contacts of population units (var hte_contact_history), typed and validated, for the frequency cap.
    Unset: an empty relation with the same columns (nobody was contacted). -#}
{%- if not hte_optional_input_is_set('hte_contact_history') -%}

select
    cast(null as {{ dbt.type_string() }}) as unit_id,
    cast(null as {{ dbt.type_timestamp() }}) as contacted_at,
    cast(null as {{ dbt.type_string() }}) as channel
where 1 = 0

{%- else -%}

{%- set input = hte_input_relation('hte_contact_history') -%}
{%- set columns = hte_input_columns(input, 'hte_contact_history', ['unit_id', 'contacted_at']) -%}
{#- "Future" is after the run date (var hte_run_date, else today in UTC): a contact logged after the day the
    decision is made for cannot have happened yet; it is a clock or time-zone error upstream, and counting it
    would cap units on contacts that do not exist. -#}
{%- set day_after_run = dbt.dateadd('day', 1, "cast(" ~ hte_run_date_sql() ~ " as " ~ dbt.type_timestamp() ~ ")") -%}

{%- set typed -%}
select
    cast(unit_id as {{ dbt.type_string() }}) as unit_id,
    cast(contacted_at as {{ dbt.type_timestamp() }}) as contacted_at,
    {{ "cast(channel as " ~ dbt.type_string() ~ ")" if 'channel' in columns else "cast(null as " ~ dbt.type_string() ~ ")" }} as channel
from {{ input }}
{%- endset -%}

{%- set found = hte_count_problems(
    "select
        sum(case when unit_id is null or contacted_at is null then 1 else 0 end) as n_null_key,
        sum(case when contacted_at >= " ~ day_after_run ~ " then 1 else 0 end) as n_future
     from (" ~ typed ~ ") c", 2) -%}

{{ hte_explain_problem(found[0],
    "select '(contacts)', count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") c
     where unit_id is null or contacted_at is null having count(*) > 0",
    'hte_contact_history', 'unit_id, contacted_at', 'contact rows have a null unit_id or contacted_at',
    'Every contact needs the unit and the time it was contacted; drop incomplete log rows upstream.') }}
{{ hte_explain_problem(found[1],
    "select '(contacts)', count(*), min('unit ' || unit_id || ' contacted at ' || cast(contacted_at as " ~ dbt.type_string() ~ "))
     from (" ~ typed ~ ") c where contacted_at >= " ~ day_after_run ~ " having count(*) > 0",
    'hte_contact_history', 'contacted_at', 'contacts are dated after the run date ' ~ hte_config_run_date(),
    'A contact cannot lie in the future: fix the clock or time zone of the contact log, or set var hte_run_date to the date the decision is made for.') }}

{{ typed }}

{%- endif -%}
