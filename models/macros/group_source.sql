{#- The last day of data (or var as_of_date): every "last N days" is relative to it, so builds are reproducible. -#}
{% macro as_of_date() %}
    {% if var('as_of_date') %}
        date '{{ var("as_of_date") }}'
    {% else %}
        (select max(purchase_date) from {{ ref('stg_group__member_days') }})
    {% endif %}
{% endmacro %}

{#- A cell with fewer than k members is suppressed (sharing rules: minimum_cohort.aggregate_cell_k). -#}
{% macro k_suppress(value_expr, members_expr) %}
    case when {{ members_expr }} >= {{ var('min_cell_k') }} then {{ value_expr }} end
{% endmacro %}
