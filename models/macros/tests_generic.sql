{#- Money is never negative. -#}
{% test non_negative(model, column_name) %}
    select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{#- A probability lies in [0, 1]. -#}
{% test between_zero_and_one(model, column_name) %}
    select * from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}

{#- Minimum cell size (sharing rules: minimum_cohort.aggregate_cell_k), on the published values themselves:
    every member count is null or at least k, and every other column (but the dimensions) is null wherever a
    member count it depends on is null or below k. `values` maps a column to the counts it depends on
    (default: all of the row's counts). The quality gate compiles the same declaration (expectations/suites.py). -#}
{% test k_anonymous(model, member_counts, dimensions=[], values={}) %}
    {%- set k = var('min_cell_k') -%}
    {%- set keep = dimensions + member_counts + ['is_suppressed', 'is_published'] -%}
    {%- set checks = [] -%}
    {%- for c in member_counts -%}
        {%- do checks.append(adapter.quote(c) ~ ' < ' ~ k) -%}
    {%- endfor -%}
    {%- for col in adapter.get_columns_in_relation(model) if col.name not in keep -%}
        {%- set small = [] -%}
        {%- for c in values.get(col.name, member_counts) -%}
            {%- do small.append('coalesce(' ~ adapter.quote(c) ~ ' < ' ~ k ~ ', true)') -%}
        {%- endfor -%}
        {%- do checks.append('((' ~ small | join(' or ') ~ ') and ' ~ adapter.quote(col.name) ~ ' is not null)') -%}
    {%- endfor %}
    select * from {{ model }}
    where {{ checks | join('\n        or ') }}
{% endtest %}

{#- Older form, still declared by the campaign report, which publishes its arms' sizes whatever they are (the
    campaign owner exported them): a count below k only where the row is flagged suppressed. It trusts the flag;
    `k_anonymous` checks the published values themselves (every other mart declares that). -#}
{% test min_cell_size(model, column_name, suppressed_column='is_suppressed') %}
    select * from {{ model }}
    where not {{ suppressed_column }} and {{ column_name }} < {{ var('min_cell_k') }}
{% endtest %}

{#- Several columns together are unique (no external packages here). -#}
{% test unique_combination(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n
    from {{ model }}
    group by all
    having count(*) > 1
{% endtest %}
