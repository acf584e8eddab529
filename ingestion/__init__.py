"""Ingestion: company extracts in the landing zones -> validated Parquet in the raw zones.

Contracts (`contracts/*.yml`) declare each extract; one engine (`engine.py`) reads any contract.
"""
