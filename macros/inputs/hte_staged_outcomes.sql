{#- The outcomes input (var hte_outcomes) typed, after its rules; stg_hte_outcomes is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_outcomes(collect=none) %}
{%- set metrics = hte_metrics() -%}
{%- set metric_list = [] -%}
{%- for name in metrics -%}{%- do metric_list.append(hte_string_literal(name)) -%}{%- endfor -%}
{%- set binary_list = [] -%}
{%- for name, spec in metrics.items() if spec.kind == 'binary' -%}{%- do binary_list.append(hte_string_literal(name)) -%}{%- endfor -%}

{#- Metrics not listed in hte_metrics are ignored on purpose (DESIGN: only configured metrics are analysed). -#}
{%- set typed = hte_typed_input('hte_outcomes', {
      'experiment_id': dbt.type_string(), 'unit_id': dbt.type_string(), 'metric': dbt.type_string(),
      'value': hte_double(), 'pre_value': hte_double()},
    optional=['pre_value'],
    where="cast(metric as " ~ dbt.type_string() ~ ") in (" ~ metric_list | join(', ') ~ ")").sql -%}
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
        select count(*) as n_rows, count(pre_value) as n_pre_value, " ~ hte_rule_counts({
            'n_null_key': null_key, 'n_bad_value': bad_value, 'n_bad_pre_value': bad_pre_value,
            'n_bad_binary': bad_binary, 'n_huge_value': huge_value, 'n_huge_pre_value': huge_pre_value}) ~ "
        from (" ~ typed ~ ") o
        group by experiment_id, metric) per_metric", 7) -%}

{{ hte_explain_problem(found[0], hte_null_key_check(typed, null_key),
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

{#- The same bound on both value columns. Grouped by metric as well, so that the example unit is one of that
    metric's offending rows. -#}
{%- for rule in [
      {'found': found[5], 'column': 'value', 'condition': huge_value, 'rows': 'outcome values', 'estimates': 'lifts',
       'fix': 'Such a value is usually a unit error, an identifier or timestamp loaded as a value, or a sentinel: fix it upstream or rescale the metric.'},
      {'found': found[6], 'column': 'pre_value', 'condition': huge_pre_value, 'rows': 'pre-period values', 'estimates': 'CUPED lifts',
       'fix': 'Fix them upstream or rescale the metric.'}] %}
{{ hte_explain_problem(rule.found,
    "select experiment_id, count(*), 'metric ' || metric || ', unit ' || min(unit_id) from (" ~ typed ~ ") o
     where " ~ rule.condition ~ " group by experiment_id, metric",
    'hte_outcomes', rule.column, rule.rows ~ ' are larger than ' ~ hte_max_abs_value() ~ ' in magnitude',
    'Their squares and sums would overflow an 8-byte float and give wrong ' ~ rule.estimates ~ ' without any error, so '
    ~ 'dbt_hte refuses them. ' ~ rule.fix, collect=collect) }}
{%- endfor %}
{{ return(typed) }}
{% endmacro %}
