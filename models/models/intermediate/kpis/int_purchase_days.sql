-- The one scan of the purchases (receipt grain, ~10M rows): per company and day, purchases and purchases with a
-- gid, one row per coupon redeemer (purchases with a campaign and a gid) and one for everything else. The KPI
-- marts and the campaign report (redemptions: coupon rows keep their campaign) read this small table instead.
with purchases as (
    select company, purchase_date, gid, campaign_id from {{ ref('stg_group__purchases') }}
),

final as (
    select
        company,
        purchase_date,
        case when campaign_id is not null then gid end as coupon_gid,
        case when gid is not null then campaign_id end as campaign_id,
        count(*) as purchases,
        count(gid) as member_purchases,
    from purchases
    group by all
)

select * from final
