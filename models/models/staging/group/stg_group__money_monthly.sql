with source as (
    select * from {{ source('group', 'money_monthly') }}
),

final as (
    select
        gid::varchar as gid,
        month::date as month,
        payments::bigint as payments,
        payment_yen::bigint as payment_yen,
        charges::bigint as charges,
        charge_yen::bigint as charge_yen,
    from source
    where gid is not null
    {% if var('as_of_date') %}and month <= date '{{ var("as_of_date") }}'{% endif %}
)

select * from final
