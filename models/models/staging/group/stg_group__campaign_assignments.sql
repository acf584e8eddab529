with source as (
    select * from {{ source('group', 'campaign_assignments') }}
),

final as (
    select distinct
        campaign_id::varchar as campaign_id,
        gid::varchar as gid,
        assigned_group::varchar as assigned_group,
    from source
    {% if var('as_of_date') %}
    where campaign_id in (select campaigns.campaign_id from {{ ref('stg_group__campaigns') }} as campaigns)
    {% endif %}
)

select * from final
