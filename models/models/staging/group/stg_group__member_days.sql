-- Locally a view: the date-partitioned Parquet reads about as fast as a DuckDB table, so copying ~9M rows first
-- costs more than it saves (readers filtering on purchase_date skip whole partitions). On S3 a table: every
-- reader would fetch the files again through httpfs.
{{ config(materialized=("table" if target.name == "s3" else "view")) }}

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
    {% if var('as_of_date') %}and purchase_date <= date '{{ var("as_of_date") }}'{% endif %}
)

select * from final
