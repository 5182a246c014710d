{#- The outcomes input (var hte_outcomes) typed, after its rules; stg_hte_outcomes is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_outcomes(collect=none) %}
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
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{%- set null_key = "experiment_id is null or unit_id is null" -%}
{%- set bad_value = "not (" ~ hte_is_finite('value') ~ ")" -%}
{%- set bad_pre_value = "pre_value is not null and not (" ~ hte_is_finite('pre_value') ~ ")" -%}
{%- set bad_binary = "metric in (" ~ binary_list | join(', ') ~ ") and value not in (0, 1)" if binary_list else "1 = 0" -%}
{#- Finite but too large to square and sum safely (macro hte_max_abs_value says why); non-finite values are the
    rules above. -#}
{%- set bound = "cast(" ~ hte_max_abs_value() ~ " as " ~ hte_double() ~ ")" -%}
{%- set huge_value = hte_is_finite('value') ~ " and abs(value) > " ~ bound -%}
{%- set huge_pre_value = "pre_value is not null and " ~ hte_is_finite('pre_value') ~ " and abs(pre_value) > " ~ bound -%}

{#- One pass counts every rule on the rows; grouped by experiment × metric because the pre_value rule compares
    rows within a metric. Duplicate and unassigned outcome rows need the join to the assignments, which
    int_hte_raw_cells makes anyway: it counts them there (macro hte_assert_joined_inputs). -#}
{%- set found = hte_count_problems(
    "select sum(n_null_key), sum(n_bad_value), sum(n_bad_pre_value),
        sum(case when n_pre_value > 0 and n_pre_value < n_rows then 1 else 0 end), sum(n_bad_binary),
        sum(n_huge_value), sum(n_huge_pre_value)
     from (
        select
            count(*) as n_rows,
            count(pre_value) as n_pre_value,
            sum(case when " ~ null_key ~ " then 1 else 0 end) as n_null_key,
            sum(case when " ~ bad_value ~ " then 1 else 0 end) as n_bad_value,
            sum(case when " ~ bad_pre_value ~ " then 1 else 0 end) as n_bad_pre_value,
            sum(case when " ~ bad_binary ~ " then 1 else 0 end) as n_bad_binary,
            sum(case when " ~ huge_value ~ " then 1 else 0 end) as n_huge_value,
            sum(case when " ~ huge_pre_value ~ " then 1 else 0 end) as n_huge_pre_value
        from (" ~ typed ~ ") o
        group by experiment_id, metric) per_metric", 7) -%}

{{ hte_explain_problem(found[0],
    "select coalesce(experiment_id, '(null)'), count(*), 'unit ' || coalesce(min(unit_id), '(null)') from (" ~ typed ~ ") o
     where " ~ null_key ~ " group by coalesce(experiment_id, '(null)')",
    'hte_outcomes', 'experiment_id, unit_id', 'outcome rows have a null experiment_id or unit_id',
    'Every outcome row must name its experiment and unit.', collect=collect) }}
{{ hte_explain_problem(found[1],
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) from (" ~ typed ~ ") o
     where " ~ bad_value ~ " group by experiment_id",
    'hte_outcomes', 'value', 'outcome values are null, NaN or infinite',
    'A unit with no activity should have value 0 (or no row at all, which counts as 0); fix or remove the broken values upstream.', collect=collect) }}
{{ hte_explain_problem(found[2],
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) from (" ~ typed ~ ") o
     where " ~ bad_pre_value ~ " group by experiment_id",
    'hte_outcomes', 'pre_value', 'pre-period values are NaN or infinite',
    'Fix the pre-period values upstream (use 0 for no pre-period activity).', collect=collect) }}
{{ hte_explain_problem(found[3],
    "select experiment_id, count(*), 'metric ' || min(metric) || ': ' || cast(min(n_null) as " ~ dbt.type_string() ~ ") || ' of ' || cast(min(n_rows) as " ~ dbt.type_string() ~ ") || ' rows null' from (
        select experiment_id, metric, sum(case when pre_value is null then 1 else 0 end) as n_null, count(*) as n_rows
        from (" ~ typed ~ ") o group by experiment_id, metric) p
     where n_null > 0 and n_null < n_rows group by experiment_id",
    'hte_outcomes', 'pre_value', 'metrics have pre_value on some rows and null on others',
    'CUPED needs the pre-period value of every unit: fill 0 for units with no pre-period activity, or leave pre_value null on every row of the metric to skip CUPED.', collect=collect) }}
{{ hte_explain_problem(found[4],
    "select experiment_id, count(*), 'unit ' || min(unit_id) || ', metric ' || min(metric) || ', value ' || cast(min(value) as " ~ dbt.type_string() ~ ") from (" ~ typed ~ ") o
     where " ~ bad_binary ~ " group by experiment_id",
    'hte_outcomes', 'value', 'values of a binary metric are not 0 or 1',
    'Declare the metric as {kind: continuous} in var hte_metrics, or fix the values.', collect=collect) }}

{#- Grouped by metric as well, so that the example unit is one of that metric's offending rows. -#}
{{ hte_explain_problem(found[5],
    "select experiment_id, count(*), 'metric ' || metric || ', unit ' || min(unit_id) from (" ~ typed ~ ") o
     where " ~ huge_value ~ " group by experiment_id, metric",
    'hte_outcomes', 'value', 'outcome values are larger than ' ~ hte_max_abs_value() ~ ' in magnitude',
    'Their squares and sums would overflow an 8-byte float and give wrong lifts without any error, so dbt_hte refuses them. '
    ~ 'Such a value is usually a unit error, an identifier or timestamp loaded as a value, or a sentinel: fix it upstream or rescale the metric.', collect=collect) }}
{{ hte_explain_problem(found[6],
    "select experiment_id, count(*), 'metric ' || metric || ', unit ' || min(unit_id) from (" ~ typed ~ ") o
     where " ~ huge_pre_value ~ " group by experiment_id, metric",
    'hte_outcomes', 'pre_value', 'pre-period values are larger than ' ~ hte_max_abs_value() ~ ' in magnitude',
    'Their squares and sums would overflow an 8-byte float and give wrong CUPED lifts without any error, so dbt_hte refuses them. '
    ~ 'Fix them upstream or rescale the metric.', collect=collect) }}
{{ return(typed) }}
{% endmacro %}
