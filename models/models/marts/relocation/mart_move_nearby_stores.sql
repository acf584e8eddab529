-- For each move, the nearest group store of each format the member has not used in the new area, measured
-- from the centre of the stores they used there since moving: where to welcome them.
with moves as (
    select * from {{ ref('fct_member_moves') }}
),

visits as (
    select * from {{ ref('int_store_visits_located') }}
),

stores as (
    select * from {{ ref('stg_group__stores') }}
),

new_area as (
    select
        moves.move_id,
        avg(visits.lat) as lat,
        avg(visits.lon) as lon,
        list(distinct visits.store_format) as formats_used,
    from moves
    inner join visits
        on moves.gid = visits.gid
        and visits.purchase_date >= moves.moved_on
        and visits.prefecture = moves.to_prefecture
    group by moves.move_id
),

candidates as (
    select
        moves.move_id,
        moves.gid,
        moves.moved_on,
        moves.to_prefecture,
        stores.store_format,
        stores.company,
        stores.store_id,
        stores.store_name,
        {{ haversine_km('new_area.lat', 'new_area.lon', 'stores.lat', 'stores.lon') }} as distance_km,
    from moves
    inner join new_area on moves.move_id = new_area.move_id
    inner join stores
        on moves.to_prefecture = stores.prefecture
        and not list_contains(new_area.formats_used, stores.store_format)
    where stores.lat is not null
),

final as (
    select
        move_id || ':' || store_format as move_store_id,
        *,
    from candidates
    qualify row_number() over (partition by move_id, store_format order by distance_km, store_id) = 1
)

select * from final
