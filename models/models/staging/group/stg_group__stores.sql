with source as (
    select * from {{ source('group', 'stores') }}
),

final as (
    select
        company::varchar as company,
        store_id::varchar as store_id,
        store_name::varchar as store_name,
        prefecture::varchar as prefecture,
        city::varchar as city,
        lat::double as lat,
        lon::double as lon,
        format::varchar as store_format,
        opened_on::date as opened_on,
    from source
)

select * from final
