{#- The experiments input (var hte_experiments) typed, after its rules; stg_hte_experiments is this.
    Rules raise, or append to `collect` in skip mode; docs/internals.md, Staging, says how. -#}
{% macro hte_staged_experiments(collect=none) %}
{%- set input = hte_input_relation('hte_experiments') -%}
{%- set columns = hte_input_columns(input, 'hte_experiments',
      ['experiment_id', 'arm', 'is_control', 'expected_share']) -%}

{%- set typed -%}
select
    cast(experiment_id as {{ dbt.type_string() }}) as experiment_id,
    cast(arm as {{ dbt.type_string() }}) as arm,
    cast(is_control as {{ dbt.type_boolean() }}) as is_control,
    cast(expected_share as {{ hte_double() }}) as expected_share,
    {{ "cast(target_metric as " ~ dbt.type_string() ~ ")" if 'target_metric' in columns else "cast(null as " ~ dbt.type_string() ~ ")" }} as target_metric,
    {{ "cast(benefit_per_unit as " ~ hte_double() ~ ")" if 'benefit_per_unit' in columns else "cast(null as " ~ hte_double() ~ ")" }} as benefit_per_unit,
    {{ "cast(cost_per_treated as " ~ hte_double() ~ ")" if 'cost_per_treated' in columns else "cast(null as " ~ hte_double() ~ ")" }} as cost_per_treated
from {{ input }}
{%- endset -%}
{#- A staging model validates what it will publish: its input without the experiments skip mode leaves out. -#}
{%- if collect is none -%}{%- set typed = hte_without_skipped_experiments(typed) -%}{%- endif -%}

{{ hte_assert_no_rows(
    "select coalesce(experiment_id, '(null)'), count(*), coalesce(arm, '(null arm)') from (" ~ typed ~ ") e
     where experiment_id is null or arm is null or is_control is null or expected_share is null
     group by coalesce(experiment_id, '(null)'), coalesce(arm, '(null arm)')",
    'hte_experiments', 'experiment_id, arm, is_control, expected_share', 'rows have a null key, is_control or expected_share',
    'Every experiment × arm row needs all four values.', collect=collect) }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), min(arm) from (" ~ typed ~ ") e group by experiment_id, arm having count(*) > 1",
    'hte_experiments', 'arm', 'arms are declared more than once',
    'Declare each experiment × arm exactly once.', collect=collect) }}
{{ hte_assert_no_rows(
    "select experiment_id, sum(case when is_control then 1 else 0 end), 'control arms: ' || "
    ~ "coalesce(max(case when is_control then arm end), 'none')
     from (" ~ typed ~ ") e group by experiment_id having sum(case when is_control then 1 else 0 end) <> 1",
    'hte_experiments', 'is_control', 'arms are marked as control (exactly one is needed)',
    'Mark exactly one arm per experiment with is_control = true; it is the baseline every lift is measured against.', collect=collect) }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'only arm: ' || min(arm) from (" ~ typed ~ ") e group by experiment_id having count(*) < 2",
    'hte_experiments', 'arm', 'arm is declared (at least two are needed)',
    'Declare the control and at least one treatment arm.', collect=collect) }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), min(arm) || ' has expected_share ' || cast(min(expected_share) as " ~ dbt.type_string() ~ ")
     from (" ~ typed ~ ") e where not (expected_share > 0 and expected_share <= 1) group by experiment_id",
    'hte_experiments', 'expected_share', 'arms have an expected_share outside (0, 1]',
    'expected_share is the planned fraction of units in the arm.', collect=collect) }}
{{ hte_assert_no_rows(
    "select experiment_id, count(*), 'shares sum to ' || cast(sum(expected_share) as " ~ dbt.type_string() ~ ")
     from (" ~ typed ~ ") e group by experiment_id having abs(sum(expected_share) - 1) > 1e-6",
    'hte_experiments', 'expected_share', 'arms have expected shares that do not sum to 1',
    'Make the expected shares of each experiment sum to 1 (e.g. 0.5/0.5 or 1/3 each).', collect=collect) }}
{{ return(typed) }}
{% endmacro %}
