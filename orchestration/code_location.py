"""The code location the webserver and daemon load: `-m orchestration.code_location` (built from the manifest
`make dagster-manifest` writes; the lake comes from LAKE_URI when a run starts)."""

from orchestration.definitions import build_definitions

defs = build_definitions()
