{#- The relation a var written as "{{ source(...) }}" or "{{ ref(...) }}" rendered to, or none when `value` is not
    such a rendering. Parse time: the rendering is this model's own name. Run time: the dependency of this model
    (a source, model, seed or snapshot) whose relation name is `value`. -#}
{% macro hte_rendered_input_relation(value) %}
  {%- if not execute -%}
    {{ return(this if value == (this | string) else none) }}
  {%- endif -%}
  {%- for unique_id in model.depends_on.nodes -%}
    {%- set node = graph.sources.get(unique_id) or graph.nodes.get(unique_id) -%}
    {%- if node and node.relation_name == value -%}
      {{ return(api.Relation.create(database=node.database, schema=node.schema,
                                    identifier=node.identifier if node.resource_type == 'source' else node.alias)) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}
