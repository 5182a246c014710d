{%- set input = hte_input_relation('hte_outcomes') -%}
{%- set columns = hte_input_columns(input, 'hte_outcomes', ['experiment_id', 'unit_id', 'metric', 'value']) -%}
{%- set metrics = hte_metrics() -%}
{%- set metric_list = [] -%}
{%- for name in metrics -%}{%- do metric_list.append(hte_string_literal(name)) -%}{%- endfor -%}
{%- set binary_list = [] -%}
{%- for name, spec in metrics.items() if spec.kind == 'binary' -%}{%- do binary_list.append(hte_string_literal(name)) -%}{%- endfor -%}

{%- set typed -%}
select
    cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
    cast(unit_id as {{ dbt.type_string() }}) as unit_id,
    cast(metric as {{ dbt.type_string() }}) as metric,
    cast(value as {{ hte_double() }}) as value,
    {{ "cast(pre_value as " ~ hte_double() ~ ")" if 'pre_value' in columns else "cast(null as " ~ hte_double() ~ ")" }} as pre_value
from {{ input }}
{#- Metrics not listed in hte_metrics are ignored on purpose (DESIGN: only configured metrics are analysed). #}
where cast(metric as {{ dbt.type_string() }}) in ({{ metric_list | join(', ') }})
{%- endset -%}

{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(null)'), count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") o
     where experiment_id is null or unit_id is null group by coalesce(experiment_id, '(null)')",
    'hte_outcomes', 'experiment_id, unit_id', 'outcome rows have a null experiment_id or unit_id',
    'Every outcome row must name its experiment and unit.') }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) from (" ~ typed ~ ") o
     where not (" ~ hte_is_finite('value') ~ ") group by experiment_id",
    'hte_outcomes', 'value', 'outcome values are null, NaN or infinite',
    'A unit with no activity should have value 0 (or no row at all, which counts as 0); fix or remove the broken values upstream.') }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) from (" ~ typed ~ ") o
     where pre_value is not null and not (" ~ hte_is_finite('pre_value') ~ ") group by experiment_id",
    'hte_outcomes', 'pre_value', 'pre-period values are NaN or infinite',
    'Fix the pre-period values upstream (use 0 for no pre-period activity).') }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'metric ' || min(metric) || ': ' || cast(min(n_null) as " ~ dbt.type_string() ~ ") || ' of ' || cast(min(n_rows) as " ~ dbt.type_string() ~ ") || ' rows null' from (
        select experiment_id, metric, sum(case when pre_value is null then 1 else 0 end) as n_null, count(*) as n_rows
        from (" ~ typed ~ ") o group by experiment_id, metric) p
     where n_null > 0 and n_null < n_rows group by experiment_id",
    'hte_outcomes', 'pre_value', 'metrics have pre_value on some rows and null on others',
    'CUPED needs the pre-period value of every unit: fill 0 for units with no pre-period activity, or leave pre_value null on every row of the metric to skip CUPED.') }}
{%- if binary_list %}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) || ', value ' || cast(min(value) as " ~ dbt.type_string() ~ ") from (" ~ typed ~ ") o
     where metric in (" ~ binary_list | join(', ') ~ ") and value not in (0, 1) group by experiment_id",
    'hte_outcomes', 'value', 'values of a binary metric are not 0 or 1',
    'Declare the metric as {kind: continuous} in var hte_metrics, or fix the values.') }}
{%- endif %}
{#- One join + group-by over the outcome rows for both rules (duplicate unit × metric rows, unassigned units). -#}
{%- set misplaced = hte_validation_rows(
    "select case when n_assigned = 0 then 'unassigned' else 'duplicate' end as problem, experiment_id, count(*),
        min('unit ' || unit_id || ', metric ' || metric)
     from (
        select o.experiment_id, o.unit_id, o.metric, count(*) as n_rows, count(a.unit_id) as n_assigned
        from (" ~ typed ~ ") o
        left join " ~ ref('stg_hte_assignments') ~ " a on o.experiment_id = a.experiment_id and o.unit_id = a.unit_id
        group by o.experiment_id, o.unit_id, o.metric) per_unit
     where n_assigned = 0 or n_rows > 1
     group by case when n_assigned = 0 then 'unassigned' else 'duplicate' end, experiment_id") -%}
{{ hte_raise_for_rows(misplaced, 'hte_outcomes', 'unit_id', 'outcome rows belong to units with no assignment',
    'Outcomes must come from assigned units only; check the experiment_id and unit_id join keys.',
    problem_key='unassigned') }}
{{ hte_raise_for_rows(misplaced, 'hte_outcomes', 'metric', 'unit × metric pairs have more than one outcome row',
    'Aggregate outcomes to one row per experiment × unit × metric upstream (e.g. sum of spend in the analysis window).',
    problem_key='duplicate') }}

{{ typed }}
