"""The access policy: which principal may read, write and list which zone (DESIGN §2, §9).

One policy for every deployment. The companies come from the sharing rules, the zones from
`lake.layout`, so adding a company to `expectations/sharing_rules.yml` gives it its landing and raw
zones and their grants, with nothing else to edit. `seaweed_config` renders the policy as the
identities file of the local S3 server, where each grant is a bucket-scoped action (`Read:raw-cvs`).

Credentials made here (`dev_credentials`) are for the local server only: deterministic so that
tests, notebooks and `lake s3 env` agree without a secret store. They protect nothing; never use
them for a store that holds real data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from expectations.rules import load_rules
from lake import layout
from lake.errors import LakeError

READ = "Read"
WRITE = "Write"  # put and delete objects
LIST = "List"
ACTIONS = (READ, WRITE, LIST)

ADMIN = "admin"
INGESTION = "ingestion"
TRANSFORMS = "transforms"
DBT = "dbt"
ANALYST = "analyst"
EXPORTS = "exports"
JOBS = (INGESTION, TRANSFORMS, DBT, ANALYST, EXPORTS)

# Access levels. A drop box may put files and see what it put, not read them back: a company's
# landing zone is where it hands extracts over, not a second copy of its data.
DROP_BOX = frozenset({WRITE, LIST})
READ_ONLY = frozenset({READ, LIST})
READ_WRITE = frozenset({READ, WRITE, LIST})  # jobs read back what they stage (S3 moves are copy + delete)

Policy = dict[str, dict[str, frozenset[str]]]  # principal -> zone -> actions


def policy(companies: list[str] | None = None) -> Policy:
    """Grants of every principal except the administrator (who may do everything), per zone.

    Mirrors the zone table of DESIGN §2: a company reaches only its own landing (write) and raw
    (read) zones; ingestion lands extracts; transforms build the group zone from the raw zones; dbt
    builds the marts from the group zone; analysts read group, marts and ops, never raw or
    quarantine; the export job reads marts and writes segment files. Every job writes `ops`.
    """
    companies = list(load_rules().companies) if companies is None else companies
    clash = sorted(set(companies) & {ADMIN, *JOBS})
    if clash:
        raise LakeError(f"company codes {clash} clash with job principals", "rename the company in the sharing rules")
    landing = [layout.landing(c) for c in companies]
    raw = [layout.raw(c) for c in companies]
    grants: Policy = {c: {layout.landing(c): DROP_BOX, layout.raw(c): READ_ONLY} for c in companies}
    grants[INGESTION] = {
        **dict.fromkeys(landing, READ_ONLY),
        **dict.fromkeys(raw, READ_WRITE),
        layout.QUARANTINE: READ_WRITE,
        layout.OPS: READ_WRITE,
    }
    grants[TRANSFORMS] = {**dict.fromkeys(raw, READ_ONLY), layout.GROUP: READ_WRITE, layout.OPS: READ_WRITE}
    grants[DBT] = {layout.GROUP: READ_ONLY, layout.MARTS: READ_WRITE, layout.OPS: READ_WRITE}
    grants[ANALYST] = {layout.GROUP: READ_ONLY, layout.MARTS: READ_ONLY, layout.OPS: READ_ONLY}
    grants[EXPORTS] = {layout.MARTS: READ_ONLY, layout.EXPORTS: READ_WRITE, layout.OPS: READ_WRITE}
    return grants


def principals(companies: list[str] | None = None) -> list[str]:
    """Every principal with credentials: the administrator, the companies, then the jobs."""
    return [ADMIN, *policy(companies)]


def allowed(grants: Policy, principal: str, zone: str, action: str) -> bool:
    """Whether the policy lets `principal` do `action` (Read, Write, List) on `zone`."""
    if principal == ADMIN:
        return True
    if principal not in grants:
        raise LakeError(f"unknown principal {principal!r}", f"use one of {', '.join([ADMIN, *grants])}")
    return action in grants[principal].get(zone, frozenset())


@dataclass(frozen=True)
class Credentials:
    principal: str
    access_key: str
    secret_key: str


def dev_credentials(principal: str) -> Credentials:
    """Deterministic, public, local-only keys for `principal` (documented as such: not a secret)."""
    secret = hashlib.sha256(f"group-lake local dev server, not a secret: {principal}".encode()).hexdigest()[:40]
    return Credentials(principal, f"lake-dev-{principal}", secret)


def seaweed_config(grants: Policy | None = None, bucket_prefix: str = "") -> dict:
    """The policy as SeaweedFS `-s3.config` JSON: one identity per principal, bucket-scoped actions."""
    grants = policy() if grants is None else grants
    identities = [_identity(ADMIN, ["Admin", READ, WRITE, LIST, "Tagging"])]
    for principal, zones in grants.items():
        actions = [f"{a}:{bucket_prefix}{zone}" for zone, acts in zones.items() for a in ACTIONS if a in acts]
        identities.append(_identity(principal, actions))
    return {"identities": identities}


def _identity(principal: str, actions: list[str]) -> dict:
    c = dev_credentials(principal)
    return {
        "name": principal,
        "credentials": [{"accessKey": c.access_key, "secretKey": c.secret_key}],
        "actions": actions,
    }
