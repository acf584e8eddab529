-- int_member_months keeps a member's brands in a month as a bit mask in a bigint: at most 63 companies.
select count(*) as companies from {{ ref('int_companies') }} having count(*) > 63
