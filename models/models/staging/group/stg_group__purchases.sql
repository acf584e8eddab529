with source as (
    select * from {{ source('group', 'purchases') }}
),

final as (
    select
        purchase_id::varchar as purchase_id,
        company::varchar as company,
        channel::varchar as channel,
        store_id::varchar as store_id,
        gid::varchar as gid,
        purchase_date::date as purchase_date,
        amount_yen::bigint as amount_yen,
        campaign_id::varchar as campaign_id,
    from source
    {{ as_of_filter('purchase_date') }}
)

select * from final
