-- The members of each exported campaign: the export's own Parquet file (gid, campaign_id, assigned_group, as hq's
-- campaign_assignments), the campaign id taken from the file name (a segment may leave the column out).
{% set registry = var('exports_registry_uri', '') %}
with source as (
    {% if registry %}
        select
            gid,
            assigned_group,
            regexp_extract(filename, '([^/]+)[.]parquet$', 1) as campaign_id,
        from read_parquet('{{ registry }}/campaign_assignments/*.parquet', union_by_name = true, filename = true)
    {% else %}
        select null::varchar as gid, null::varchar as assigned_group, null::varchar as campaign_id, where false
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
