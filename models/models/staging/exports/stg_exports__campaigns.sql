-- Campaigns registered by segment exports (ops zone). Empty until the first export: read_parquet fails on a glob
-- that matches nothing, so lake/build.py sets `exports_registry_uri` only when the registry has files.
{% set registry = var('exports_registry_uri', '') %}
with source as (
    {% if registry %}
        select * from read_parquet('{{ registry }}/campaigns/*.parquet', union_by_name = true)
    {% else %}
        select
            null::varchar as campaign_id, null::varchar as company, null::varchar as target_company,
            null::varchar as description, null::date as starts_on, null::date as ends_on, null::varchar as segment,
            null::varchar as definition_hash, null::varchar as purpose, null::double as holdout_share,
            null::timestamptz as exported_at,
        where false
    {% endif %}
),

final as (
    select
        campaign_id::varchar as campaign_id,
        company::varchar as company,
        target_company::varchar as target_company,
        description::varchar as description,
        starts_on::date as starts_on,
        ends_on::date as ends_on,
        segment::varchar as segment,
        definition_hash::varchar as definition_hash,
        purpose::varchar as purpose,
        holdout_share::double as holdout_share,
        exported_at::timestamptz as exported_at,
    from source
)

select * from final
