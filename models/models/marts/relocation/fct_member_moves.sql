-- Members who moved house, detected from the stores they use (see int_member_moves_detected), with the date.
with moves as (
    select * from {{ ref('int_member_moves_detected') }}
),

final as (
    select
        gid || ':' || moved_on::varchar as move_id,
        gid,
        moved_on,
        last_seen_old_area_on,
        first_seen_new_area_on,
        from_prefecture,
        to_prefecture,
        is_within_prefecture,
        round(distance_km, 1) as distance_km,
        weeks_in_new_area,
    from moves
)

select * from final
