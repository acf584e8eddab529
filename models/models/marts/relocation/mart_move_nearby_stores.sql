-- For each move, the nearest group store of each format the member has not used in the new area, measured
-- from the new home area (the most-used store there): where to welcome them.
with moves as (
    select * from {{ ref('int_member_moves_detected') }}
),

visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

stores as (
    select * from {{ ref('stg_group__stores') }}
),

-- the new home (int_member_home_areas, as the move found it) and the formats already used there since the move
new_area as (
    select
        moves.gid || ':' || moves.moved_on::varchar as move_id,
        any_value(moves.new_lat) as lat,
        any_value(moves.new_lon) as lon,
        list(distinct visits.store_format) filter (
            where {{ haversine_km('moves.new_lat', 'moves.new_lon', 'visits.lat', 'visits.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as formats_used,
    from moves
    inner join visits
        on
            moves.gid = visits.gid
            and visits.purchase_date >= moves.moved_on
    group by all
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
    from {{ ref('fct_member_moves') }} as moves
    inner join new_area on moves.move_id = new_area.move_id
    inner join stores
        on
            moves.to_prefecture = stores.prefecture
            and not list_contains(coalesce(new_area.formats_used, []), stores.store_format)
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
