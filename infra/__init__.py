"""Infrastructure as code: the per-zone access policy and the local S3 server (SeaweedFS).

`infra.access` derives who may read, write and list each zone from the sharing rules and the zone
table of DESIGN §2; `infra.seaweed` runs the local S3-compatible store with that policy loaded.
"""
