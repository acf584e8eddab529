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
        programme_joined_on::date as programme_joined_on,
    from source
)

select * from final
