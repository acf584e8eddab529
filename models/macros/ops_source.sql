{#- A table the stages append to the ops zone (`name` in the var `ops_tables`, from lake/layout.py: its folder
    of Parquet files), with the `columns` the model needs ({name: type}). Until a stage has written its first
    file the glob matches nothing, and DuckDB fails on an empty glob: then it is an empty relation of the same
    columns, so a fresh lake still builds. Without the var `ops_uri` (bare dbt) every ops source is empty. -#}
{% macro ops_source(name, columns) %}
    {%- set root = var('ops_uri', '') -%}
    {%- set path = var('ops_tables', {}).get(name, name) ~ '/**/*.parquet' -%}
    {%- set found = [] -%}
    {%- if execute and root -%}
        {%- set res = run_query("select count(*) from glob('" ~ root ~ "/" ~ path ~ "')") -%}
        {%- do found.append(res.columns[0].values()[0]) -%}
    {%- endif -%}
    {%- if found and found[0] > 0 -%}
        (
            select {% for col, type in columns.items() %}{{ col }}::{{ type }} as {{ col }}{{ ", " if not loop.last }}{% endfor %}
            from read_parquet('{{ root }}/{{ path }}', hive_partitioning = false, union_by_name = true)
        )
    {%- else -%}
        (
            select {% for col, type in columns.items() %}null::{{ type }} as {{ col }}{{ ", " if not loop.last }}{% endfor %}
            where false
        )
    {%- endif -%}
{% endmacro %}
