-- Coupon use per campaign and member: purchases carrying the campaign (ec's coupon code, a coupon at the till) and
-- app `coupon_use` events. One row per campaign, member and day with a use.
with purchase_days as (
    select * from {{ ref('int_purchase_days') }}
    where coupon_gid is not null and campaign_id is not null
),

app_events as (
    select * from {{ ref('stg_group__app_events') }}
    where event_type = 'coupon_use' and campaign_id is not null and gid is not null
),

uses as (
    select campaign_id, coupon_gid as gid, purchase_date as redeemed_on from purchase_days
    union all
    select campaign_id, gid, event_date as redeemed_on from app_events
),

final as (
    select distinct campaign_id, gid, redeemed_on
    from uses
)

select * from final
