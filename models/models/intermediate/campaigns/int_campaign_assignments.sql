-- Members and arms of every campaign in int_campaigns (hq's assignments and the exports' registered splits).
with campaigns as (
    select * from {{ ref('int_campaigns') }}
),

hq as (
    select * from {{ ref('stg_group__campaign_assignments') }}
),

exported as (
    select * from {{ ref('stg_exports__campaign_assignments') }}
),

final as (
    select hq.campaign_id, hq.gid, hq.assigned_group
    from hq
    inner join campaigns on hq.campaign_id = campaigns.campaign_id and campaigns.origin = 'hq'
    union all
    select exported.campaign_id, exported.gid, exported.assigned_group
    from exported
    inner join campaigns on exported.campaign_id = campaigns.campaign_id and campaigns.origin = 'export'
)

select * from final
