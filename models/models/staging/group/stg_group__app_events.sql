with source as (
    select * from {{ source('group', 'app_events') }}
),

final as (
    select
        event_id::varchar as event_id,
        gid::varchar as gid,
        app::varchar as app,
        event_type::varchar as event_type,
        occurred_at::timestamptz as occurred_at,
        event_date::date as event_date,
        campaign_id::varchar as campaign_id,
    from source
    {{ as_of_filter('event_date') }}
)

select * from final
