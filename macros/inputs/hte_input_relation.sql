{#- Resolve one of the four input vars to a relation, with the lineage dbt needs. Three spellings:

    - a plain name, 'my_assignments': a model or seed of the user's (root) project. It is resolved with the
      two-argument ref(<root project>, name): dbt records the dependency and, the package being named, does not
      warn that a package node depends on a root-project node (the plain one-argument ref warns on every parse).
      The bundled demo seeds (hte_demo_*) are dbt_hte's own nodes.
    - 'source:<source_name>.<table_name>': a dbt source.
    - "{{ source('raw', 'assignments') }}" or "{{ ref('my_model') }}" (the convention of many dbt packages):
      dbt renders a var's Jinja in the context of the model that reads it, so the source() or ref() inside ran in
      this model and recorded the dependency itself; what reaches this macro is only the rendered relation name.
      At parse time that name is this model's own (dbt's parse-time ref and source return `this`); at run time it
      is the input's, found again among this model's dependencies so it becomes a relation object.
    Anything else stops with the supported spellings. -#}
{% macro hte_input_relation(var_name) %}
  {%- set spellings = "a model or seed of your project by name (e.g. 'my_assignments'), a source as "
      ~ "'source:<source_name>.<table_name>', or the Jinja forms \"{{ source('<source_name>', '<table_name>') }}\" "
      ~ "and \"{{ ref('<model>') }}\"" -%}
  {%- set value = var(var_name) -%}
  {%- if value is not string or value | trim == '' -%}
    {{ hte_config_error(var_name, 'be ' ~ spellings, value) }}
  {%- endif -%}
  {%- set value = value | trim -%}
  {%- if value.startswith('source:') -%}
    {%- set parts = value[7:].split('.') -%}
    {%- if parts | length != 2 or '' in parts -%}
      {{ exceptions.raise_compiler_error(
          "dbt_hte configuration error: var '" ~ var_name ~ "' is '" ~ value
          ~ "'; a source must be written 'source:<source_name>.<table_name>'.") }}
    {%- endif -%}
    {{ return(source(parts[0], parts[1])) }}
  {%- elif modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', value) -%}
    {%- set package = 'dbt_hte' if value.startswith('hte_demo_') else project_name -%}
    {{ return(ref(package, value)) }}
  {%- endif -%}
  {%- set rendered = dbt_hte.hte_rendered_input_relation(value) -%}
  {%- if rendered is none -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte configuration error: var '" ~ var_name ~ "' is '" ~ value ~ "', which is neither a name nor a "
        ~ "source() or ref() this package can trace (a table name written out, like 'raw.assignments', gives dbt "
        ~ "no lineage). Write " ~ spellings ~ ".") }}
  {%- endif -%}
  {{ return(rendered) }}
{% endmacro %}
