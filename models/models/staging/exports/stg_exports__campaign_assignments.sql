-- The members of each exported campaign: the export's own Parquet file (gid, campaign_id, group), the campaign id
-- taken from the file name (the file may leave the column out). The file calls the control arm `holdout`.
{% set registry = var('exports_registry_uri', '') %}
with source as (
    {% if registry %}
        select
            gid,
            "group" as arm,
            regexp_extract(filename, '([^/]+)[.]parquet$', 1) as campaign_id,
        from read_parquet('{{ registry }}/campaign_assignments/*.parquet', union_by_name = true, filename = true)
    {% else %}
        select null::varchar as gid, null::varchar as arm, null::varchar as campaign_id, where false
    {% endif %}
),

final as (
    select
        campaign_id::varchar as campaign_id,
        gid::varchar as gid,
        case arm when 'holdout' then 'control' else 'treatment' end::varchar as assigned_group,
    from source
)

select * from final
