with source as (
    select * from {{ source('group', 'campaigns') }}
),

final as (
    select
        campaign_id::varchar as campaign_id,
        company::varchar as company,
        target_company::varchar as target_company,
        description::varchar as description,
        starts_on::date as starts_on,
        ends_on::date as ends_on,
    from source
    {{ as_of_filter('starts_on') }}
)

select * from final
