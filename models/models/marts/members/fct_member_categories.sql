-- One row per member, brand and group category bought (companies that share item lines): first and last purchase,
-- days with a purchase, spend and quantity. Segments use it ("baby items bought elsewhere in the last 90 days").
with categories as (
    select * from {{ ref('stg_group__member_day_categories') }}
),

final as (
    select
        gid || ':' || company || ':' || category as member_category_id,
        gid,
        company,
        category,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(distinct purchase_date) as purchase_days,
        sum(amount_yen)::bigint as spend_yen,
        sum(quantity)::bigint as quantity,
    from categories
    group by gid, company, category
)

select * from final
