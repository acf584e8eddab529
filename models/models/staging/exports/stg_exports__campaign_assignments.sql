{% set registry = var('exports_registry_uri', '') %}
with source as (
    {% if registry %}
        select * from read_parquet('{{ registry }}/campaign_assignments/*.parquet', union_by_name = true)
    {% else %}
        select null::varchar as campaign_id, null::varchar as gid, null::varchar as assigned_group, where false
    {% endif %}
),

final as (
    select
        campaign_id::varchar as campaign_id,
        gid::varchar as gid,
        assigned_group::varchar as assigned_group,
    from source
)

select * from final
