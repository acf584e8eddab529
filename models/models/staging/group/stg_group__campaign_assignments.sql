with source as (
    select * from {{ source('group', 'campaign_assignments') }}
),

final as (
    select distinct
        campaign_id::varchar as campaign_id,
        gid::varchar as gid,
        assigned_group::varchar as assigned_group,
    from source
)

select * from final
