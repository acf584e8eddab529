-- Member store visits placed on the map: one row per member, company and day with a physical store.
-- A view, not a table: the join to the store master is a cheap lookup, and every reader needs only a slice
-- (moves: members seen in two prefectures; home area: the last weeks; nearby stores: the movers), so writing
-- all ~9M rows to disk would cost more than it saves.
{{ config(materialized="view") }}

with member_days as (
    select * from {{ ref('stg_group__member_days') }}
),

stores as (
    select * from {{ ref('stg_group__stores') }}
),

final as (
    select
        member_days.gid,
        member_days.purchase_date,
        member_days.company,
        member_days.store_id,
        stores.prefecture,
        stores.lat,
        stores.lon,
        stores.store_format,
    from member_days
    inner join stores
        on
            member_days.company = stores.company
            and member_days.store_id = stores.store_id
)

select * from final
