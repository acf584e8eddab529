-- Relocation (DESIGN §7): a change point in the sequence of a member's located store visits. Every day with a
-- visit is a possible split; on each side the home is the member's store with the most of that side's visits
-- within `move_radius_km` of it (the densest spot, so a light shopper whose new visits spread over three new
-- stores still has one new home). A split is a move when the two homes lie more than `move_radius_km` apart
-- and it divides the visits cleanly: before it, at most `move_max_overlap_share` of the visits near the new
-- home; from it, at most that share near the old one; at least `move_min_visit_days` visits near the old home
-- before and near the new one after; a brand used around the old home before and around the new one after (a
-- member who only switched from the corner shop to a superstore across town did not move); and the new home
-- holds for `move_persist_weeks` weeks with a visit. A commuter uses both areas all along: on either side of
-- any split most visits lie around the same home, so the two homes coincide and no split qualifies. Of the
-- qualifying splits the cleanest (fewest visits near the other side's home) wins; the move date is midway
-- between the last visit near the old home and the first near the new one (the member moved in between).
with visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

-- the candidate homes: every store the member used, with the member's visits within the radius of it; a store
-- with fewer than `move_min_visit_days` of them can be neither side's home, so leaving it out changes no split
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

-- a member whose possible homes all fit in a box with a diagonal under the radius cannot have moved that far:
-- skip them before pairing visits with homes (the diagonal bounds every distance between two homes)
movable as (
    select gid
    from density
    group by gid
    having {{ haversine_km('min(lat)', 'min(lon)', 'max(lat)', 'max(lon)') }} > {{ var('move_radius_km') }}
),

-- integer keys for the member and the candidate home (ranked by company and store id, the tie-break below): the
-- sorts and joins over every (home, visit day) pair run on fixed-width numbers instead of ids
movers as (
    select gid, row_number() over (order by gid) as member_key
    from movable
),

centres as (
    select
        movers.member_key,
        row_number() over (partition by density.gid order by density.company, density.store_id) as centre_key,
        density.*,
    from density
    inner join movers on density.gid = movers.gid
),

member_visits as (
    select movers.member_key, visits.*
    from visits
    inner join movers on visits.gid = movers.gid
),

-- per candidate home and visit day: the member's visits that day, and those near that home
centre_days as (
    select
        centres.member_key,
        centres.centre_key,
        member_visits.purchase_date,
        count(*) as n,
        count(*) filter (
            where {{ haversine_km('centres.lat', 'centres.lon', 'member_visits.lat', 'member_visits.lon') }}
            <= {{ var('move_radius_km') }}
        ) as n_near,
    from centres
    inner join member_visits on centres.member_key = member_visits.member_key
    group by all
),

-- every visit day is a possible split: visits before it and from it, in all and near each candidate home (from
-- one running sum and the partition total: a frame ending one row back costs several times more)
running as (
    select
        *,
        sum(n) over upto as cum_n,
        sum(n_near) over upto as cum_near,
        sum(n) over home as total_n,
        sum(n_near) over home as total_near,
    from centre_days
    window
        upto as (
            partition by member_key, centre_key order by purchase_date
            rows between unbounded preceding and current row
        ),
        home as (partition by member_key, centre_key)
),

splits as (
    select
        member_key,
        centre_key,
        purchase_date as split_on,
        cum_n - n as pre_n,
        cum_near - n_near as pre_near,
        total_n - cum_n + n as post_n,
        total_near - cum_near + n_near as post_near,
    from running
),

-- a split qualifies only if the old home has at least `move_min_visit_days` near visits before it and the new
-- one as many after it; the best-ranked row of a split is the one with the most, so dropping the rows with fewer
-- before ranking leaves every qualifying split's homes as they were (and only drops splits that cannot qualify)
old_home as (
    select * from splits
    where pre_n > 0 and pre_near >= {{ var('move_min_visit_days') }}
    qualify row_number() over (partition by member_key, split_on order by pre_near desc, centre_key asc) = 1
),

new_home as (
    select * from splits
    where pre_n > 0 and post_near >= {{ var('move_min_visit_days') }}
    qualify row_number() over (partition by member_key, split_on order by post_near desc, centre_key asc) = 1
),

qualifying as (
    select
        old_home.member_key,
        old_home.split_on,
        old_home.pre_n,
        old_home.post_n,
        old_home.pre_near as pre_old,
        old_home.post_near as post_old,
        new_home.pre_near as pre_new,
        new_home.post_near as post_new,
        old_home.centre_key as old_centre_key,
        new_home.centre_key as new_centre_key,
    from old_home
    inner join new_home on old_home.member_key = new_home.member_key and old_home.split_on = new_home.split_on
    where
        old_home.pre_near >= {{ var('move_min_visit_days') }}
        and new_home.post_near >= {{ var('move_min_visit_days') }}
        and new_home.pre_near <= {{ var('move_max_overlap_share') }} * old_home.pre_n
        and old_home.post_near <= {{ var('move_max_overlap_share') }} * old_home.post_n
),

placed as (
    select
        old.gid,
        qualifying.*,
        old.lat as old_lat,
        old.lon as old_lon,
        old.prefecture as from_prefecture,
        new.lat as new_lat,
        new.lon as new_lon,
        new.prefecture as to_prefecture,
        {{ haversine_km('old.lat', 'old.lon', 'new.lat', 'new.lon') }} as distance_km,
    from qualifying
    inner join centres as old
        on qualifying.member_key = old.member_key and qualifying.old_centre_key = old.centre_key
    inner join centres as new
        on qualifying.member_key = new.member_key and qualifying.new_centre_key = new.centre_key
    where {{ haversine_km('old.lat', 'old.lon', 'new.lat', 'new.lon') }} > {{ var('move_radius_km') }}
),

-- each qualifying split against the member's visits: persistence, the brands on each side, and the dates
checked as (
    select
        placed.gid,
        placed.split_on,
        count(distinct date_trunc('week', v.purchase_date)) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as post_new_weeks,
        -- the stores used near each home (twice the radius: a brand's nearest store may lie a little farther from
        -- home than the densest spot), and every store used on each side
        list(distinct v.company) filter (
            where v.purchase_date < placed.split_on
            and {{ haversine_km('placed.old_lat', 'placed.old_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as brands_before,
        list(distinct v.company) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as brands_after,
        list(distinct v.company || ':' || v.store_id) filter (where v.purchase_date < placed.split_on)
            as stores_before,
        list(distinct v.company || ':' || v.store_id) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }}
            <= 2 * {{ var('move_radius_km') }}
        ) as stores_after,
        max(v.purchase_date) filter (
            where v.purchase_date < placed.split_on
            and {{ haversine_km('placed.old_lat', 'placed.old_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as last_old_date,
        min(v.purchase_date) filter (
            where v.purchase_date >= placed.split_on
            and {{ haversine_km('placed.new_lat', 'placed.new_lon', 'v.lat', 'v.lon') }} <= {{ var('move_radius_km') }}
        ) as first_new_date,
    from placed
    inner join member_visits as v on placed.member_key = v.member_key
    group by placed.gid, placed.split_on
),

best_split as (
    select placed.*, checked.post_new_weeks, checked.last_old_date, checked.first_new_date
    from placed
    inner join checked on placed.gid = checked.gid and placed.split_on = checked.split_on
    where
        checked.post_new_weeks >= {{ var('move_persist_weeks') }}
        and len(list_intersect(checked.brands_before, checked.brands_after)) > 0
        -- a move changes stores: some brand used near the old home before is used near the new one after only at
        -- stores not used before (a member who kept their stores and dropped the corner shop did not move)
        and len(list_filter(
            list_intersect(checked.brands_before, checked.brands_after),
            b -> len(list_filter(
                checked.stores_after, s -> split_part(s, ':', 1) = b
                and list_contains(checked.stores_before, s)
            )) = 0
        )) > 0
    qualify row_number() over (
        partition by placed.gid
        order by placed.pre_new / placed.pre_n + placed.post_old / placed.post_n, placed.split_on
    ) = 1
),

final as (
    select
        gid,
        (last_old_date + ((first_new_date - last_old_date) // 2)::integer)::date as moved_on,
        last_old_date as last_seen_old_area_on,
        first_new_date as first_seen_new_area_on,
        from_prefecture,
        to_prefecture,
        from_prefecture = to_prefecture as is_within_prefecture,
        distance_km,
        new_lat,
        new_lon,
        post_new_weeks as weeks_in_new_area,
    from best_split
)

select * from final
