{#- The last day of data (or var as_of_date): every "last N days" is relative to it, so builds are reproducible.
    Computed once, in int_as_of_date. -#}
{% macro as_of_date() %}
    {% if var('as_of_date') %}
        date '{{ var("as_of_date") }}'
    {% else %}
        (select as_of_date from {{ ref('int_as_of_date') }})
    {% endif %}
{% endmacro %}

{#- A cell with fewer than k members is suppressed (sharing rules: minimum_cohort.aggregate_cell_k). -#}
{% macro k_suppress(value_expr, members_expr) %}
    case when {{ members_expr }} >= {{ var('min_cell_k') }} then {{ value_expr }} end
{% endmacro %}

{#- No look-ahead: with the var as_of_date set, staging keeps only what a lake stopping at that date would hold
    (rows dated after it are dropped), so every window downstream is bounded by it. Without the var, nothing is
    dropped and the as-of date is the last day of data. -#}
{% macro as_of_filter(date_column) %}
    {% if var('as_of_date') %}where {{ date_column }} <= date '{{ var("as_of_date") }}'{% endif %}
{% endmacro %}
