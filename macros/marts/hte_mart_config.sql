{#- Analysis settings of the SQL marts, read from vars and checked once, so that a typo fails the build with a
    sentence instead of silently changing which tests are corrected together. -#}

{% macro hte_config_alpha() %}
  {%- set alpha = var('hte_alpha') -%}
  {%- if alpha is not number or alpha <= 0 or alpha >= 1 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_alpha' must be a number strictly between 0 and 1 (e.g. 0.05); got "
        ~ (alpha | string) ~ ".") }}
  {%- endif -%}
  {{ return(alpha) }}
{% endmacro %}

{% macro hte_config_min_segment_size() %}
  {%- set size = var('hte_min_segment_size') -%}
  {%- if size is not number or size < 0 or size != size | int -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_min_segment_size' must be a whole number of units per arm, 0 or "
        ~ "more (e.g. 100); got " ~ (size | string) ~ ".") }}
  {%- endif -%}
  {{ return(size | int) }}
{% endmacro %}

{% macro hte_config_p_adjust_method() %}
  {%- set method = var('hte_p_adjust') -%}
  {%- if method not in ['holm', 'bh', 'bonferroni'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_p_adjust' must be holm, bh or bonferroni; got "
        ~ (method | string) ~ ".") }}
  {%- endif -%}
  {{ return(method) }}
{% endmacro %}

{#- The columns that partition segment tests into multiple-testing families (var hte_p_adjust_family). -#}
{% macro hte_config_family_columns() %}
  {%- set families = {
        'experiment_metric_arm': ['experiment_id', 'metric', 'arm'],
        'experiment_metric_arm_dimension': ['experiment_id', 'metric', 'arm', 'dimension'],
        'experiment': ['experiment_id'],
  } -%}
  {%- set family = var('hte_p_adjust_family') -%}
  {%- if family not in families -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_p_adjust_family' must be experiment_metric_arm, "
        ~ "experiment_metric_arm_dimension or experiment; got " ~ (family | string) ~ ".") }}
  {%- endif -%}
  {{ return(families[family]) }}
{% endmacro %}

{% macro hte_config_check_alert_p() %}
  {%- set threshold = var('hte_check_alert_p') -%}
  {%- if threshold is not number or threshold <= 0 or threshold >= 1 -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_check_alert_p' must be a p-value threshold strictly between 0 and 1 "
        ~ "(e.g. 0.001); got " ~ (threshold | string) ~ ".") }}
  {%- endif -%}
  {{ return(threshold) }}
{% endmacro %}

{% macro hte_config_check_severity() %}
  {%- set severity = var('hte_check_severity') | string | lower -%}
  {%- if severity not in ['warn', 'error'] -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var 'hte_check_severity' must be warn (alerts are reported in hte_checks) or "
        ~ "error (an alert also fails dbt build); got " ~ (var('hte_check_severity') | string) ~ ".") }}
  {%- endif -%}
  {{ return(severity) }}
{% endmacro %}

{#- A number from a var as a SQL double literal (a bare 0.05 is a fixed-point decimal on DuckDB and Spark). -#}
{% macro hte_double_literal(value) %}
  {{- return("cast(" ~ value ~ " as " ~ hte_double() ~ ")") -}}
{% endmacro %}


{#- The one-row interval parameters every test mart shares: alpha and z_{1-alpha/2} (computed once per build). -#}
{% macro hte_interval_params(alpha) -%}
    select
        {{ hte_double_literal(alpha) }} as alpha,
        {{ hte_normal_quantile('1.0e0 - ' ~ hte_double_literal(alpha) ~ ' / 2.0e0') }} as z_critical
{%- endmacro %}


{#- Each treatment arm of an experiment with the experiment's control arm: the comparisons every lift is made for. -#}
{% macro hte_treatment_arms() -%}
    select t.experiment_id, t.arm, c.arm as control_arm
    from {{ ref('stg_hte_experiments') }} t
    join {{ ref('stg_hte_experiments') }} c
        on c.experiment_id = t.experiment_id
        and c.is_control
    where not t.is_control
{%- endmacro %}
