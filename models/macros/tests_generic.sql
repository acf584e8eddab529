{#- Money is never negative. -#}
{% test non_negative(model, column_name) %}
    select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{#- A probability lies in [0, 1]. -#}
{% test between_zero_and_one(model, column_name) %}
    select * from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}

{#- No published aggregate cell counts fewer than k members unless it is suppressed. -#}
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
