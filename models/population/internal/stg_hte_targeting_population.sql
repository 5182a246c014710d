{#- The population to decide for (var hte_targeting_population), typed and validated: one row per unit, the
    feature columns the deployed models read, and the eligibility rule applied (is_eligible, ineligible_reason).
    Unset: an empty relation with the same columns (those of stg_hte_unit_features), so every population model
    builds, empty, without configuration. -#}
{%- set features = ref('stg_hte_unit_features') -%}
{%- set reserved = ['experiment_id', 'unit_id', 'features_at', 'is_eligible', 'ineligible_reason'] -%}
{%- set rule = var('hte_population_eligibility_rule') -%}
{%- set has_rule = rule is not none and (rule | string | trim | lower) not in ['', 'none', 'null'] -%}
{%- set rule_reason = var('hte_population_eligibility_reason') -%}
{%- if rule_reason is none or (rule_reason | string | trim | lower) in ['', 'none', 'null'] -%}
  {%- set rule_reason = 'eligibility rule not met: ' ~ (rule | string | trim) -%}
{%- endif -%}

{%- if not hte_optional_input_is_set('hte_targeting_population') -%}

select
    unit_id,
    features_at
    {%- for column in (adapter.get_columns_in_relation(features) if execute else []) if column.name | lower not in reserved %},
    {{ adapter.quote(column.name) }}
    {%- endfor %},
    cast(null as boolean) as is_eligible,
    cast(null as {{ dbt.type_string() }}) as ineligible_reason
from {{ features }}
where 1 = 0

{%- else -%}

{%- set input = hte_input_relation('hte_targeting_population') -%}
{%- set columns = hte_input_columns(input, 'hte_targeting_population', ['unit_id', 'features_at']) -%}
{%- set input_columns = adapter.get_columns_in_relation(input) if execute else [] -%}

{%- if execute -%}
  {#- Each rule below names the input, the column and an example row, and says what to do. -#}
  {%- if 'experiment_id' in columns -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in hte_targeting_population (" ~ input ~ "): column 'experiment_id': the population "
        ~ "is one row per unit, decided for every experiment that declares economics; drop the column (filter the "
        ~ "units upstream, or use the eligibility rule, to decide one experiment for a subset).") }}
  {%- endif -%}
  {%- for name in var('hte_feature_columns') if name | lower not in columns -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in hte_targeting_population (" ~ input ~ "): column '" ~ name ~ "' is listed in var "
        ~ "'hte_feature_columns' (the deployed models read it) but the population has no such column. Its columns "
        ~ "are: " ~ columns | join(', ') ~ ". Compute it for the population exactly as for hte_unit_features "
        ~ "(same definition, same time window).") }}
  {%- endfor -%}
  {%- for column in input_columns if column.name | lower == 'is_eligible' and not hte_is_boolean_type(column.data_type) -%}
    {%- set example = run_query("select cast(unit_id as " ~ dbt.type_string() ~ "), cast(is_eligible as "
        ~ dbt.type_string() ~ ") from " ~ input ~ " where is_eligible is not null order by 1 limit 1").rows -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte input error in hte_targeting_population (" ~ input ~ "): column 'is_eligible' has type "
        ~ column.data_type ~ ", not boolean"
        ~ ((" (e.g. unit " ~ example[0][0] ~ ": is_eligible = '" ~ example[0][1] ~ "')") if example else "")
        ~ ". Make it a true/false column (e.g. cast(status = 'active' as boolean)): a text or number would leave "
        ~ "it to guesswork which value means eligible.") }}
  {%- endfor -%}
{%- endif -%}

{%- set has_flag = 'is_eligible' in columns -%}
{%- set has_flag_reason = 'ineligible_reason' in columns -%}
{#- The reason of the first rule a unit fails; null when it is eligible. A null flag or a rule that evaluates to
    null (a null in a column it reads) makes a unit ineligible with its own reason: unknown is not "yes". -#}
{%- set reason_sql -%}
{%- if not has_flag and not has_rule -%}
cast(null as {{ dbt.type_string() }})
{%- else -%}
case
    {%- if has_flag %}
    when is_eligible is null then 'eligibility unknown: is_eligible is null'
    when not is_eligible then coalesce(cast({{ 'ineligible_reason' if has_flag_reason else 'null' }} as {{ dbt.type_string() }}), 'is_eligible is false')
    {%- endif %}
    {%- if has_rule %}
    when ({{ rule }}) is null then {{ hte_string_literal('eligibility unknown (the rule reads a null value): ' ~ (rule | string | trim)) }}
    when not ({{ rule }}) then {{ hte_string_literal(rule_reason) }}
    {%- endif %}
    else cast(null as {{ dbt.type_string() }})
end
{%- endif -%}
{%- endset -%}

{%- set typed -%}
select
    cast(unit_id as {{ dbt.type_string() }}) as unit_id,
    cast(features_at as {{ dbt.type_timestamp() }}) as features_at
    {%- for column in input_columns if column.name | lower not in reserved %},
    {{ adapter.quote(column.name) }}
    {%- endfor %},
    {{ reason_sql }} as ineligible_reason
from {{ input }}
{%- endset -%}

{%- set found = hte_count_problems(
    "select rows_found.*, units_found.n_repeated from (
        select sum(case when unit_id is null or features_at is null then 1 else 0 end) as n_null_key
        from (" ~ typed ~ ") p
     ) rows_found
     cross join (
        select count(*) as n_repeated from (
            select unit_id from (" ~ typed ~ ") p group by unit_id having count(*) > 1) repeated
     ) units_found", 2) -%}

{{ hte_explain_problem(found[0],
    "select '(population)', count(*), 'unit ' || coalesce(min(unit_id), '(null)') || ', features_at '
        || coalesce(cast(min(features_at) as " ~ dbt.type_string() ~ "), '(null)') from (" ~ typed ~ ") p
     where unit_id is null or features_at is null having count(*) > 0",
    'hte_targeting_population', 'unit_id, features_at', 'rows have a null unit_id or features_at',
    'Every population row needs its unit_id and features_at (when its features were computed): scoring features of unknown age is how a model gets stale inputs.') }}
{{ hte_explain_problem(found[1],
    "select '(population)', count(*), 'unit ' || min(unit_id) from (
        select unit_id from (" ~ typed ~ ") p group by unit_id having count(*) > 1) d",
    'hte_targeting_population', 'unit_id', 'units have more than one population row',
    'Keep one row per unit (its latest feature snapshot): a unit must get one decision.') }}

select
    unit_id,
    features_at
    {%- for column in input_columns if column.name | lower not in reserved %},
    {{ adapter.quote(column.name) }}
    {%- endfor %},
    ineligible_reason is null as is_eligible,
    ineligible_reason
from ({{ typed }}) p

{%- endif -%}
