"""Dashboards for business members and operations on Apache Superset, as code (DESIGN §11).

`datasets.yml`, `dashboards.yml` and `permissions.yml` declare what Superset shows and to whom; `lake dashboards`
runs Superset (its own virtual environment) and provisions it through the REST API; `alerts.yml` and
`lake alerts check` post to a chat webhook. Nothing here is imported by `superset_config.py`, which runs in
Superset's environment.
"""
