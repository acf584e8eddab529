-- A table, not a view: a dozen models read it, and reading the partitioned Parquet once saves most of the build.
{{ config(materialized="table") }}

with source as (
    select * from {{ source('group', 'member_day') }}
),

final as (
    select
        gid::varchar as gid,
        company::varchar as company,
        purchase_date::date as purchase_date,
        spend_yen::bigint as spend_yen,
        visits::bigint as visits,
        first_store_id::varchar as store_id,
    from source
    where gid is not null
)

select * from final
