-- Moves of house per month for the Members dashboard (fct_member_moves is member-grain): moves detected, members
-- who moved, and how many moves got a nearby-store suggestion. A month with fewer than k moves is suppressed.
with moves as (
    select * from {{ ref('fct_member_moves') }}
),

nearby as (
    select distinct move_id from {{ ref('mart_move_nearby_stores') }}
),

per_month as (
    select
        date_trunc('month', moves.moved_on)::date as month,
        count(*) as moves,
        count(distinct moves.gid) as movers,
        count(nearby.move_id) as moves_with_suggestions,
    from moves
    left join nearby on moves.move_id = nearby.move_id
    group by all
),

final as (
    select
        month,
        least(moves, movers) < {{ var('min_cell_k') }} as is_suppressed,
        {{ k_suppress('moves', 'least(moves, movers)') }} as moves,
        {{ k_suppress('movers', 'least(moves, movers)') }} as movers,
        {{ k_suppress('moves_with_suggestions', 'least(movers, moves_with_suggestions)') }} as moves_with_suggestions,
    from per_month
)

select * from final
