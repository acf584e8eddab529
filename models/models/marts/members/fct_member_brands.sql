-- One row per member and brand used: first and last purchase, spend and visits (the unified view, per brand).
with brands as (
    select * from {{ ref('int_member_brands_summarised') }}
),

final as (
    select
        gid || ':' || company as member_brand_id,
        gid,
        company,
        first_purchase_date,
        last_purchase_date,
        visit_days,
        visits::bigint as visits,
        spend_yen::bigint as spend_yen,
    from brands
)

select * from final
