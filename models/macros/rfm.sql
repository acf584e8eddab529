{#- Quintile score 1..5 from the cumulative share (cume_dist: the share of members at or below this value). Ties
    share a score, so scores are deterministic, and the best value always scores 5: a tie at the top cannot leave
    the top quintile empty (with percent_rank a large tie at the top would get 4). -#}
{% macro rfm_score(cume_dist_expr) %}
    greatest(1, least(5, ceil({{ cume_dist_expr }} * 5 - 1e-9)))::integer
{% endmacro %}

{#- Named RFM segments from recency and frequency scores: every (r, f) pair lands in exactly one. -#}
{% macro rfm_segment(r, f) %}
    case
        when {{ r }} >= 4 and {{ f }} >= 4 then 'champions'
        when {{ r }} >= 3 and {{ f }} >= 3 then 'loyal'
        when {{ r }} >= 4 then 'new_or_promising'
        when {{ r }} = 3 then 'needs_attention'
        when {{ f }} >= 4 then 'cant_lose_them'
        when {{ f }} >= 2 then 'at_risk'
        else 'hibernating'
    end
{% endmacro %}
