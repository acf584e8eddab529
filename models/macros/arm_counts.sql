{#- Members and first purchases per arm of a campaign (treatment, control): one definition for every
    referral mart, so the per-campaign and per-brand-pair figures always count alike. -#}
{% macro arm_counts() -%}
        count(*) filter (where assigned_group = 'treatment') as treatment_members,
        count(*) filter (where assigned_group = 'control') as control_members,
        count(*) filter (where assigned_group = 'treatment' and is_converted) as treatment_converted,
        count(*) filter (where assigned_group = 'control' and is_converted) as control_converted,
{%- endmacro %}
