-- Category mix of member days (companies that share lines), group taxonomy: the life-stage signals.
with source as (
    select * from {{ source('group', 'member_day_category') }}
),

final as (
    select
        gid::varchar as gid,
        company::varchar as company,
        purchase_date::date as purchase_date,
        category::varchar as category,
        amount_yen::bigint as amount_yen,
        quantity::bigint as quantity,
    from source
    where gid is not null
    {% if var('as_of_date') %}and purchase_date <= date '{{ var("as_of_date") }}'{% endif %}
)

select * from final
