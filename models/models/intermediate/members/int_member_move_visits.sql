-- The located visits up to the as-of date of the members who may have moved (int_member_move_centres), with
-- their member key: the input of the split search (int_member_move_splits) and of the checks after it
-- (int_member_moves_detected). A view: each reader scans it once.
{{ config(materialized="view") }}

with visits as (
    select * from {{ ref('int_store_visits_located') }}
    where purchase_date <= {{ as_of_date() }}
),

movers as (
    select distinct
        member_key,
        gid,
    from {{ ref('int_member_move_centres') }}
),

-- an integer key per store (the split search computes distances per member and store, not per visit)
places as (
    select
        company,
        store_id,
        row_number() over (order by company, store_id) as place_key,
    from {{ ref('stg_group__stores') }}
),

final as (
    select
        movers.member_key,
        places.place_key,
        visits.gid,
        visits.purchase_date,
        visits.company,
        visits.store_id,
        visits.prefecture,
        visits.lat,
        visits.lon,
    from visits
    inner join movers on visits.gid = movers.gid
    inner join places on visits.company = places.company and visits.store_id = places.store_id
)

select * from final
