-- Relocation (DESIGN §7): the home area of a member in a week is the prefecture of the stores they used most
-- over a rolling window of `home_window_weeks` weeks; a move is a change of home area between two runs that
-- each hold for at least `move_persist_weeks` observed weeks (short runs, e.g. a trip, are ignored).
with visits as (
    select * from {{ ref('int_store_visits_located') }}
),

-- A member whose located visits all lie in one prefecture has that home area every week: one run, no move. Only
-- members seen in two or more prefectures go through the weekly home-area computation (the same result, exactly).
multi_area_members as (
    select gid from visits group by gid having min(prefecture) <> max(prefecture)
),

area_visits as (
    select gid, prefecture, purchase_date from visits
    where gid in (select multi_area_members.gid from multi_area_members)
),

weekly as (
    select
        gid,
        prefecture,
        date_trunc('week', purchase_date)::date as week_start,
        count(*) as n_visits,
        max(purchase_date) as last_visit_date,
    from area_visits
    group by all
),

member_weeks as (
    select distinct gid, week_start from weekly
),

-- the rolling window as an equi-join: a week's visits count for it and the next `home_window_weeks` - 1 weeks
window_offsets as (
    select (7 * offset_weeks)::integer as offset_days
    from range({{ var('home_window_weeks') }}) as offsets (offset_weeks)
),

rolling as (
    select
        member_weeks.gid,
        member_weeks.week_start,
        weekly.prefecture,
        sum(weekly.n_visits) as n_visits,
        max(weekly.last_visit_date) as last_visit_date,
    from weekly
    cross join window_offsets
    inner join member_weeks
        on weekly.gid = member_weeks.gid
        and weekly.week_start + window_offsets.offset_days = member_weeks.week_start
    group by all
),

home_weekly as (
    select
        gid,
        week_start,
        prefecture as home_prefecture,
    from rolling
    qualify row_number() over (
        partition by gid, week_start order by n_visits desc, last_visit_date desc, prefecture
    ) = 1
),

islands as (
    select
        *,
        row_number() over (partition by gid order by week_start)
        - row_number() over (partition by gid, home_prefecture order by week_start) as island,
    from home_weekly
),

runs as (
    select
        gid,
        home_prefecture,
        min(week_start) as run_start,
        max(week_start) as run_end,
        count(*) as n_weeks,
    from islands
    group by gid, home_prefecture, island
),

stable_runs as (
    select
        *,
        lag(home_prefecture) over (partition by gid order by run_start) as previous_prefecture,
        lag(run_end) over (partition by gid order by run_start) as previous_run_end,
    from runs
    where n_weeks >= {{ var('move_persist_weeks') }}
),

moves as (
    select
        gid,
        previous_prefecture as from_prefecture,
        home_prefecture as to_prefecture,
        previous_run_end,
        run_start,
        n_weeks as weeks_in_new_area,
    from stable_runs
    where previous_prefecture is not null and previous_prefecture <> home_prefecture
),

-- the move date: the first visit in the new area after the last visit in the old one
last_old_visit as (
    select
        moves.gid,
        moves.run_start,
        max(visits.purchase_date) as last_old_visit_date,
    from moves
    inner join area_visits as visits
        on moves.gid = visits.gid
        and visits.prefecture = moves.from_prefecture
        and visits.purchase_date < moves.run_start + 7
    group by all
),

final as (
    select
        moves.gid,
        min(visits.purchase_date) as moved_on,
        moves.from_prefecture,
        moves.to_prefecture,
        moves.weeks_in_new_area,
    from moves
    inner join last_old_visit
        on moves.gid = last_old_visit.gid
        and moves.run_start = last_old_visit.run_start
    inner join area_visits as visits
        on moves.gid = visits.gid
        and visits.prefecture = moves.to_prefecture
        and visits.purchase_date > last_old_visit.last_old_visit_date
    group by moves.gid, moves.from_prefecture, moves.to_prefecture, moves.weeks_in_new_area, moves.run_start
)

select * from final
