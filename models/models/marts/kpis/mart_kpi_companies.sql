-- Per company: data freshness (last purchase date in the group zone, days behind the newest company and behind
-- today), volume in the last 30 days, and the gid link rate (share of purchases carrying a gid).
with purchase_days as (
    select * from {{ ref('int_purchase_days') }}
),

-- the months money shares, as a distinct list: a bare min()/max() of `month` over the group zone crashes DuckDB
-- 1.5 (INTERNAL Error "Attempted to access index N within vector of size N") when money_monthly is a single
-- hive partition (month=...) holding one file, as the real chain writes it for a window inside one month: the
-- aggregate is answered from the Parquet statistics, which have no entry for the partition column. Aggregating
-- over the distinct months reads the values instead.
money_months as (
    select distinct month from {{ ref('stg_group__money_monthly') }}
),

per_company as (
    select
        company,
        max(purchase_date) as last_data_date,
        sum(purchases)::bigint as purchases,
        sum(member_purchases)::bigint as member_purchases,
    from purchase_days
    group by company
    union all
    select
        'money' as company,
        -- a monthly total covers the month up to the newest data at most (not the rest of an ongoing month)
        least(
            (max(month) + interval 1 month - interval 1 day)::date,
            (select max(pd.purchase_date) from purchase_days as pd)
        ) as last_data_date,
        null::bigint as purchases,
        null::bigint as member_purchases,
    from money_months
),

recent as (
    select company, sum(purchases)::bigint as purchases_30d
    from purchase_days
    where purchase_date > (select max(pd.purchase_date) from purchase_days as pd) - 30
    group by company
),

final as (
    select
        per_company.company,
        per_company.last_data_date,
        (max(per_company.last_data_date) over () - per_company.last_data_date)::integer as days_behind_newest,
        (current_date - per_company.last_data_date)::integer as days_since_last_data,
        per_company.purchases,
        coalesce(recent.purchases_30d, 0) as purchases_30d,
        per_company.member_purchases / nullif(per_company.purchases, 0) as gid_link_rate,
    from per_company
    left join recent on per_company.company = recent.company
)

select * from final
