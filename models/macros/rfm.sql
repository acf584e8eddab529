{#- Quintile score 1..5 from a percent rank; ties share a score, so scores are deterministic. -#}
{% macro rfm_score(percent_rank_expr) %}
    least(5, 1 + floor({{ percent_rank_expr }} * 5))::integer
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
