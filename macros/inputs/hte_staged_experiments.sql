{#- The experiments input (var hte_experiments) typed, after its rules; stg_hte_experiments is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_experiments(collect=none) %}
{%- set typed = hte_typed_input('hte_experiments', {
      'experiment_id': dbt.type_string(), 'arm': dbt.type_string(), 'is_control': dbt.type_boolean(),
      'expected_share': hte_double(), 'target_metric': dbt.type_string(), 'benefit_per_unit': hte_double(),
      'cost_per_treated': hte_double()},
    optional=['target_metric', 'benefit_per_unit', 'cost_per_treated']).sql -%}
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{#- Each rule: the column it is about, the query of the rows that break it (as hte_assert_no_rows reads them),
    the problem and the fix. The input is a handful of rows, so each rule reads it on its own. -#}
{%- set rules = [
    ('experiment_id, arm, is_control, expected_share',
     "select coalesce(experiment_id, '(null)'), count(*), coalesce(arm, '(null arm)') from (" ~ typed ~ ") e
      where experiment_id is null or arm is null or is_control is null or expected_share is null
      group by coalesce(experiment_id, '(null)'), coalesce(arm, '(null arm)')",
     'rows have a null key, is_control or expected_share', 'Every experiment × arm row needs all four values.'),
    ('arm',
     "select experiment_id, count(*), min(arm) from (" ~ typed ~ ") e group by experiment_id, arm having count(*) > 1",
     'arms are declared more than once', 'Declare each experiment × arm exactly once.'),
    ('is_control',
     "select experiment_id, sum(case when is_control then 1 else 0 end), 'control arms: ' || "
     ~ "coalesce(max(case when is_control then arm end), 'none')
      from (" ~ typed ~ ") e group by experiment_id having sum(case when is_control then 1 else 0 end) <> 1",
     'arms are marked as control (exactly one is needed)',
     'Mark exactly one arm per experiment with is_control = true; it is the baseline every lift is measured against.'),
    ('arm',
     "select experiment_id, count(*), 'only arm: ' || min(arm) from (" ~ typed ~ ") e group by experiment_id having count(*) < 2",
     'arm is declared (at least two are needed)', 'Declare the control and at least one treatment arm.'),
    ('expected_share',
     "select experiment_id, count(*), min(arm) || ' has expected_share ' || cast(min(expected_share) as " ~ dbt.type_string() ~ ")
      from (" ~ typed ~ ") e where not (expected_share > 0 and expected_share <= 1) group by experiment_id",
     'arms have an expected_share outside (0, 1]', 'expected_share is the planned fraction of units in the arm.'),
    ('expected_share',
     "select experiment_id, count(*), 'shares sum to ' || cast(sum(expected_share) as " ~ dbt.type_string() ~ ")
      from (" ~ typed ~ ") e group by experiment_id having abs(sum(expected_share) - 1) > 1e-6",
     'arms have expected shares that do not sum to 1',
     'Make the expected shares of each experiment sum to 1 (e.g. 0.5/0.5 or 1/3 each).'),
] -%}
{%- for column, rows_sql, problem, fix in rules -%}
  {%- do hte_assert_no_rows(rows_sql, 'hte_experiments', column, problem, fix, collect=collect) -%}
{%- endfor -%}
{{ return(typed) }}
{% endmacro %}
