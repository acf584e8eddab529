-- Events marked on the dashboards' time-series charts (DESIGN §11): campaign periods, files rejected at ingestion,
-- failed quality gates and deployments. One row per event; `lake dashboards provision` copies them into Superset's
-- annotation layers (keyed on annotation_id, so a rebuild never duplicates one).
-- Two clocks: `data_*_at` is the business day the event concerns (a campaign's days, the day of a rejected file),
-- drawn on charts of business KPIs; `event_at` is when it happened (UTC), drawn on the minute-grain ops charts.
with campaigns as (
    select * from {{ ref('stg_group__campaigns') }}
),

manifests as (
    select * from {{ ops_source('manifests', {
        'batch_id': 'varchar', 'company': 'varchar', 'feed': 'varchar', 'source': 'varchar',
        'status': 'varchar', 'reason': 'varchar', 'detail': 'varchar', 'finished_at': 'timestamptz',
    }) }}
),

runs as (
    select * from {{ ops_source('runs', {
        'run_id': 'varchar', 'stage': 'varchar', 'company': 'varchar', 'status': 'varchar',
        'message': 'varchar', 'finished_at': 'timestamptz', 'rows_rejected': 'bigint',
    }) }}
),

deployments as (
    select * from {{ ops_source('deployments', {
        'deployment_id': 'varchar', 'deployed_at': 'timestamptz', 'title': 'varchar', 'detail': 'varchar',
    }) }}
),

campaign_periods as (
    select
        'campaign:' || campaign_id as annotation_id,
        'campaign' as kind,
        company,
        campaign_id || ' ' || company || ' -> ' || target_company as title,
        description as detail,
        starts_on::timestamp as data_start_at,
        (ends_on + 1)::timestamp as data_end_at,
        null::timestamp as event_at,
    from campaigns
),

rejected_files as (
    select
        'rejected_file:' || batch_id as annotation_id,
        'rejected_file' as kind,
        company,
        -- titles are unique per layer (Superset requires it): the file and when it was rejected
        'rejected ' || regexp_extract(source, '[^/]+$') || ' (' || coalesce(reason, 'unknown') || ', '
        || strftime(timezone('UTC', finished_at), '%Y-%m-%d %H:%M') || ' UTC)' as title,
        source || ': ' || coalesce(detail, '') as detail,
        -- the day the file's data is about (its name carries it), else the day it arrived
        coalesce(
            try_strptime(regexp_extract(source, '(\d{8})[^/]*$', 1), '%Y%m%d'),
            date_trunc('day', timezone('UTC', finished_at))
        )::timestamp as data_start_at,
        null::timestamp as data_end_at,
        timezone('UTC', finished_at) as event_at,
    from manifests
    where status = 'rejected'
),

gate_failures as (
    select
        'gate_failure:' || run_id as annotation_id,
        'gate_failure' as kind,
        company,
        'gate ' || status || coalesce(' for ' || company, '') || ' ('
        || strftime(timezone('UTC', finished_at), '%Y-%m-%d %H:%M:%S') || ' UTC)' as title,
        coalesce(message, '') as detail,
        null::timestamp as data_start_at,
        null::timestamp as data_end_at,
        timezone('UTC', finished_at) as event_at,
    from runs
    where stage = 'check' and status <> 'ok'
),

deployed as (
    select
        'deployment:' || deployment_id as annotation_id,
        'deployment' as kind,
        null::varchar as company,
        title || ' (' || strftime(timezone('UTC', deployed_at), '%Y-%m-%d %H:%M') || ' UTC)' as title,
        coalesce(detail, '') as detail,
        null::timestamp as data_start_at,
        null::timestamp as data_end_at,
        timezone('UTC', deployed_at) as event_at,
    from deployments
),

final as (
    select * from campaign_periods
    union all
    select * from rejected_files
    union all
    select * from gate_failures
    union all
    select * from deployed
)

select * from final
