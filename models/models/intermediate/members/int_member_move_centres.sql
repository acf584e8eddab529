-- Relocation (DESIGN §7), the candidate homes of int_member_moves_detected: every store a member used with at
-- least `move_min_visit_days` of the member's visits up to the as-of date within `move_radius_km` of it (a store
-- with fewer can be neither side's home of a split, so leaving it out changes no split), for the members who may
-- have moved: those whose candidate homes do not all fit in a box with a diagonal under the radius (the diagonal
-- bounds every distance between two homes). Integer keys for the member (`member_key`, by number of candidate
-- homes, most first, then gid: the order the split search works in) and the home (`centre_key`, by company and
-- store id: the tie-break of the split search in int_member_move_splits).
with visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

member_stores as (
    select
        gid,
        company,
        store_id,
        any_value(lat) as lat,
        any_value(lon) as lon,
        any_value(prefecture) as prefecture,
        count(*) as visits,
    from visits
    group by gid, company, store_id
),

density as (
    select
        a.gid,
        a.company,
        a.store_id,
        any_value(a.lat) as lat,
        any_value(a.lon) as lon,
        any_value(a.prefecture) as prefecture,
    from member_stores as a
    inner join member_stores as b
        on
            a.gid = b.gid
            and {{ haversine_km('a.lat', 'a.lon', 'b.lat', 'b.lon') }} <= {{ var('move_radius_km') }}
    group by a.gid, a.company, a.store_id
    having sum(b.visits) >= {{ var('move_min_visit_days') }}
),

movable as (
    select
        gid,
        count(*) as centres,
    from density
    group by gid
    having {{ haversine_km('min(lat)', 'min(lon)', 'max(lat)', 'max(lon)') }} > {{ var('move_radius_km') }}
),

movers as (
    select
        gid,
        row_number() over (order by centres desc, gid asc) as member_key,
    from movable
),

final as (
    select
        movers.member_key,
        row_number() over (partition by density.gid order by density.company, density.store_id) as centre_key,
        density.*,
    from density
    inner join movers on density.gid = movers.gid
)

select * from final
