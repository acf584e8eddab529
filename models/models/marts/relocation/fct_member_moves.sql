-- Members who moved house, detected from the stores they use (see int_member_moves_detected).
with moves as (
    select * from {{ ref('int_member_moves_detected') }}
),

final as (
    select
        gid || ':' || moved_on::varchar as move_id,
        gid,
        moved_on,
        from_prefecture,
        to_prefecture,
        weeks_in_new_area,
    from moves
)

select * from final
