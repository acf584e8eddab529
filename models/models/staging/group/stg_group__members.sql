with source as (
    select * from {{ source('group', 'members') }}
),

final as (
    select
        gid::varchar as gid,
        birth_year::integer as birth_year,
        nullif(gender, '')::varchar as gender,
        prefecture::varchar as prefecture,
        postal3::varchar as postal3,
        joined_on::date as joined_on,
        marketing_consent::boolean as has_marketing_consent,
        -- an enrolment after the as-of date is not known yet
        {% if var('as_of_date') %}
        case when programme_joined_on::date <= date '{{ var("as_of_date") }}' then programme_joined_on::date end
        {% else %}programme_joined_on::date{% endif %} as programme_joined_on,
    from source
    {{ as_of_filter('joined_on') }}
)

select * from final
