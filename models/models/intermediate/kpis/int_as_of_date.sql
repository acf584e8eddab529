-- The as-of date once (one row): the last purchase date in the group zone. Without the var as_of_date the
-- macro as_of_date() reads it from here, so a dozen models compare with a one-row table instead of each
-- scanning member_day again for its maximum (one scan per use, and a filter the Parquet reader cannot push down).
select max(purchase_date) as as_of_date
from {{ ref('stg_group__member_days') }}
