{#- Export every mart built in this run as Parquet to the marts zone, so S3 users and `lake sql` read them. -#}
{% macro export_marts(results) %}
    {% if execute and var('marts_uri', '') %}
        {% for res in results %}
            {% set node = res.node %}
            {% if node.resource_type == 'model' and 'mart' in node.tags and res.status == 'success' %}
                {% set rel = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) %}
                {% if rel is not none %}
                    {% set sql %}
                        copy (select * from {{ rel }})
                        to '{{ var("marts_uri") }}/{{ node.alias }}.parquet' (format parquet, compression zstd)
                    {% endset %}
                    {% do run_query(sql) %}
                {% endif %}
            {% endif %}
        {% endfor %}
    {% endif %}
{% endmacro %}
