{#- A relative export folder is relative to the dbt project folder (absolute paths also go into the BI database's
    views, which a BI tool reads from its own working directory). -#}
{% macro hte_export_absolute_path(directory) %}
  {%- if directory.startswith('/') or modules.re.match('^[A-Za-z]:[\\\\/]', directory) -%}
    {%- set path = directory -%}
  {%- else -%}
    {%- set base = invocation_args_dict.get('project_dir') or '' -%}
    {%- if not base.startswith('/') -%}
      {%- set base = env_var('PWD', '.') ~ ('/' ~ base if base else '') -%}
    {%- endif -%}
    {%- set path = base.rstrip('/') ~ '/' ~ directory -%}
  {%- endif -%}
  {%- set parts = [] -%}
  {%- for part in path.split('/') -%}
    {%- if part == '..' and parts and parts[-1] not in ['', '..'] -%}{%- do parts.pop() -%}
    {%- elif part not in ['.', ''] or loop.first -%}{%- do parts.append(part) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(parts | join('/') if parts != [''] else '/') }}
{% endmacro %}
