"""The access policy: which principal may do what on which zone or prefix of a zone (DESIGN §2, §9).

One policy for every deployment. The companies come from the sharing rules, the zones and prefixes
from `lake.layout`, so adding a company to `expectations/sharing_rules.yml` gives it its landing, raw
and exports grants with nothing else to edit.

The model: a principal holds grants on *scopes*. A scope is a whole zone (`ops`) or a key prefix
inside one (`ops/manifests/ingest/`, written `scope(zone, prefix)`). For any key, the most specific
scope of the principal that contains it decides, so a prefix can narrow a zone grant (the manifests
are append-only inside an ops zone the jobs may otherwise rewrite) or open one place in a zone the
principal cannot otherwise reach (a company's own folder in `exports`). Actions:

- `Read` get objects; `List` list keys (under the scope's prefix);
- `Create` put keys that do not exist yet (append-only records: no overwrite);
- `Write` put keys, new or existing (overwrite; implies `Create`);
- `Delete` delete keys (separate from `Write`: replacing a file is not removing it).

The policy is rendered once as IAM policy statements (`iam_statements`): the local SeaweedFS server
loads them as attached policies (`seaweed_config`) and the cloud deployment attaches them to one IAM
role per principal (`infra/cloud`), so both enforce the same documents. The one difference: SeaweedFS
4.48 has no `s3:if-none-match` condition key, so locally `Create` cannot refuse an overwrite (it
allows the put, like `Write`, and still refuses deletes); on AWS it is enforced with S3 conditional
writes (a create-only put must send `If-None-Match: *`).

Credentials made here (`dev_credentials`) are for the local server only: deterministic so that
tests, notebooks and `lake s3 env` agree without a secret store. They protect nothing; never use
them for a store that holds real data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from expectations.rules import load_rules
from lake import layout
from lake.errors import LakeError

READ = "Read"
LIST = "List"
CREATE = "Create"  # put keys that do not exist yet
WRITE = "Write"  # put keys, replacing what is there
DELETE = "Delete"
ACTIONS = (READ, LIST, CREATE, WRITE, DELETE)
IMPLIES = {WRITE: frozenset({CREATE})}  # whoever may overwrite may also create

# What a request does, as the access tests and the cloud matrix probe it. `create` is a put of a new key
# sent with `If-None-Match: *` (what an append-only writer sends), `overwrite` a plain put.
OPERATIONS = ("read", "list", "create", "overwrite", "delete")
_NEEDS = {"read": READ, "list": LIST, "create": CREATE, "overwrite": WRITE, "delete": DELETE}

ADMIN = "admin"
INGESTION = "ingestion"
TRANSFORMS = "transforms"
DBT = "dbt"
ANALYST = "analyst"
EXPORTS = "exports"
JOBS = (INGESTION, TRANSFORMS, DBT, ANALYST, EXPORTS)

# Access levels. A drop box may put files (and re-deliver them) and see what it put, not read them
# back nor take them away: a company's landing zone is where it hands extracts over.
DROP_BOX = frozenset({WRITE, LIST})
READ_ONLY = frozenset({READ, LIST})
READ_WRITE = frozenset({READ, LIST, WRITE, DELETE})  # jobs read back what they stage; S3 moves are copy + delete
APPEND_ONLY = frozenset({READ, LIST, CREATE})  # tamper-evident records: add, never replace or remove

Policy = dict[str, dict[str, frozenset[str]]]  # principal -> scope -> actions


def scope(zone: str, prefix: str = "") -> str:
    """The key of a grant: `zone`, or `zone/prefix/` for the keys under `prefix` in that zone."""
    if not prefix:
        return zone
    return f"{zone}/{prefix.strip('/')}/"


def split_scope(key: str) -> tuple[str, str]:
    """(zone, prefix) of a scope; the prefix is '' for a whole zone, else ends with '/'."""
    zone, _, prefix = key.partition("/")
    return zone, prefix


def policy(companies: list[str] | None = None) -> Policy:
    """Grants of every principal except the administrator (who may do everything).

    Mirrors the zone table of DESIGN §2: a company drops files into its own landing zone, reads its
    own raw zone and its own folder of the exports zone; ingestion lands extracts; transforms build the
    group zone from the raw zones; dbt builds the marts from the group zone; analysts read group, marts
    and ops, never raw or quarantine; the export job reads marts and writes segment files. Every job
    writes `ops`, but the ingest manifests and the export audit log are append-only for all of them.
    """
    companies = list(load_rules().companies) if companies is None else companies
    clash = sorted(set(companies) & {ADMIN, *JOBS})
    if clash:
        raise LakeError(f"company codes {clash} clash with job principals", "rename the company in the sharing rules")
    landing = [layout.landing(c) for c in companies]
    raw = [layout.raw(c) for c in companies]
    manifests = scope(layout.OPS, layout.MANIFESTS)
    audit = scope(layout.OPS, layout.EXPORT_AUDIT)
    grants: Policy = {
        c: {
            layout.landing(c): DROP_BOX,
            layout.raw(c): READ_ONLY,
            scope(layout.EXPORTS, layout.exports_prefix(c)): READ_ONLY,
        }
        for c in companies
    }
    grants[INGESTION] = {
        **dict.fromkeys(landing, READ_ONLY),
        **dict.fromkeys(raw, READ_WRITE),
        layout.QUARANTINE: READ_WRITE,
        layout.OPS: READ_WRITE,
        manifests: APPEND_ONLY,
    }
    grants[TRANSFORMS] = {**dict.fromkeys(raw, READ_ONLY), layout.GROUP: READ_WRITE, layout.OPS: READ_WRITE}
    grants[DBT] = {layout.GROUP: READ_ONLY, layout.MARTS: READ_WRITE, layout.OPS: READ_WRITE}
    grants[ANALYST] = {layout.GROUP: READ_ONLY, layout.MARTS: READ_ONLY, layout.OPS: READ_ONLY}
    grants[EXPORTS] = {layout.MARTS: READ_ONLY, layout.EXPORTS: READ_WRITE, layout.OPS: READ_WRITE, audit: APPEND_ONLY}
    for principal, scopes in grants.items():  # no job may rewrite another's records either
        if principal in JOBS and layout.OPS in scopes and scopes[layout.OPS] != READ_ONLY:
            scopes.setdefault(manifests, READ_ONLY)
            scopes.setdefault(audit, READ_ONLY)
    return grants


def principals(companies: list[str] | None = None) -> list[str]:
    """Every principal with credentials: the administrator, the companies, then the jobs."""
    return [ADMIN, *policy(companies)]


def expand(actions: frozenset[str]) -> frozenset[str]:
    """The actions a grant permits, with those its actions imply (`Write` permits `Create`)."""
    return frozenset(actions).union(*(IMPLIES.get(a, frozenset()) for a in actions))


def governing(grants: Policy, principal: str, zone: str, key: str = "") -> frozenset[str]:
    """The actions of the most specific scope of `principal` containing `key` in `zone` (none: empty)."""
    if principal not in grants:
        raise LakeError(f"unknown principal {principal!r}", f"use one of {', '.join([ADMIN, *grants])}")
    best, found = -1, frozenset()
    for s, acts in grants[principal].items():
        z, prefix = split_scope(s)
        if z == zone and key.startswith(prefix) and len(prefix) > best:
            best, found = len(prefix), acts
    return expand(found)


def allowed(grants: Policy, principal: str, zone: str, action: str, key: str = "") -> bool:
    """Whether the policy lets `principal` do `action` on `key` in `zone` (for List: list under `key`)."""
    if principal == ADMIN:
        return True
    return action in governing(grants, principal, zone, key)


def permits(grants: Policy, principal: str, zone: str, operation: str, key: str = "") -> bool:
    """Whether a request doing `operation` (one of OPERATIONS) on `key` in `zone` is allowed."""
    return allowed(grants, principal, zone, _NEEDS[operation], key)


# --- the table for people (README, `lake s3 policy`) ------------------------------------------

LEVEL_NAMES = {  # how the table names a level; any other set of actions is listed as it is
    DROP_BOX: "drop box",
    READ_ONLY: "read",
    READ_WRITE: "read, write, delete",
    APPEND_ONLY: "append only",
}
COMPANY = "<company>"  # stands for each company in the table's zone and principal names


def _level(actions: frozenset[str]) -> str:
    if not actions:
        return "-"
    for level, name in LEVEL_NAMES.items():
        if expand(level) == actions:
            return name
    return ", ".join(a.lower() for a in ACTIONS if a in actions)


def _template(s: str, company: str) -> str:
    """`s` with the company code, as a whole word of a zone or prefix name, replaced by `COMPANY`."""
    parts = re.split(r"([-/])", s)
    return "".join(COMPANY if p == company else p for p in parts)


def access_table(companies: list[str] | None = None) -> list[list[str]]:
    """Who can reach what: a header row, then a row per principal (the companies as one), a column per scope.

    Every cell is what `governing` answers for a key at the top of that scope, so the table cannot say
    more or less than the policy; a column or row that stands for every company (`<company>`) shows the
    company's own zone, marked "own" where it reaches no other company's.
    """
    companies = list(load_rules().companies) if companies is None else companies
    grants = policy(companies)
    columns: list[str] = []
    for zone in [*layout.all_zones(companies)]:
        for s in [zone, *sorted({s for scopes in grants.values() for s in scopes if split_scope(s)[0] == zone})]:
            t = next((_template(s, c) for c in companies if _template(s, c) != s), s)
            if t not in columns:
                columns.append(t)

    def at(t: str, company: str) -> tuple[str, str]:
        return split_scope(t.replace(COMPANY, company))

    def cell(principal: str, t: str) -> str:
        if COMPANY not in t:
            return _level(governing(grants, principal, *at(t, companies[0])))
        levels = {_level(governing(grants, principal, *at(t, c))) for c in companies}
        return levels.pop() if len(levels) == 1 else "varies"

    def company_cell(t: str) -> str:
        own = {_level(governing(grants, c, *at(t, c))) for c in companies}
        others = {_level(governing(grants, c, *at(t, d))) for c in companies for d in companies if d != c}
        if len(own) != 1 or len(others) > 1:
            return "varies"
        mine, theirs = own.pop(), others.pop() if others else "-"
        if COMPANY in t and theirs == "-" and mine != "-":
            return f"{mine} (own)"
        return mine if mine == theirs or COMPANY not in t else f"{mine} (own), {theirs} (others)"

    rows = [["principal", *columns], [ADMIN, *(["everything"] * len(columns))]]
    rows.append([COMPANY, *(company_cell(t) for t in columns)])
    rows += [[p, *(cell(p, t) for t in columns)] for p in grants if p not in companies]
    return rows


def markdown_table(companies: list[str] | None = None) -> str:
    """`access_table` as a Markdown table (what the README shows; a test keeps the two equal)."""
    rows = access_table(companies)
    lines = ["| " + " | ".join(f"`{c}`" if i else c for i, c in enumerate(rows[0])) + " |",
             "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join([f"`{r[0]}`", *r[1:]]) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


# --- IAM policy statements (local server and cloud) ------------------------------------------

# The S3 actions behind each policy action. Multipart uploads count as s3:PutObject on AWS and SeaweedFS.
S3_ACTIONS = {
    READ: ["s3:GetObject"],
    LIST: ["s3:ListBucket"],
    WRITE: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
    CREATE: ["s3:PutObject"],
    DELETE: ["s3:DeleteObject"],
}
# S3 conditional writes: a put that sends `If-None-Match: *` succeeds only if the key does not exist.
WITH_IF_NONE_MATCH = {"Null": {"s3:if-none-match": "false"}}
WITHOUT_IF_NONE_MATCH = {"Null": {"s3:if-none-match": "true"}}


def iam_statements(
    scopes: dict[str, frozenset[str]], bucket_arn: Callable[[str], str], conditional_writes: bool = True
) -> list[dict]:
    """One principal's grants as IAM policy statements; `bucket_arn(zone)` names each zone's bucket.

    Every scope allows its actions on its keys (`<bucket>/<prefix>*`; listing on the bucket, limited
    to the prefix by `s3:prefix`). A scope nested in another denies what the enclosing scopes allow
    and it does not (IAM has no "most specific wins": explicit denies make it so). `Create` without
    `Write` allows only puts carrying `If-None-Match` when `conditional_writes` (AWS); the local server
    has no such condition key, so there it allows the put (and an overwrite with it).
    """
    parsed = sorted((split_scope(s), frozenset(a)) for s, a in scopes.items())
    out: list[dict] = []
    for (zone, prefix), acts in parsed:
        bucket, keys = bucket_arn(zone), f"{bucket_arn(zone)}/{prefix}*"
        if READ in acts:
            out.append(_stmt("Allow", S3_ACTIONS[READ], keys))
        if LIST in acts:
            out.append(_stmt("Allow", S3_ACTIONS[LIST], bucket, _prefix_condition(prefix)))
        if WRITE in acts:
            out.append(_stmt("Allow", S3_ACTIONS[WRITE], keys))
        elif CREATE in acts:
            out.append(_stmt("Allow", S3_ACTIONS[CREATE], keys, WITH_IF_NONE_MATCH if conditional_writes else None))
        if DELETE in acts:
            out.append(_stmt("Allow", S3_ACTIONS[DELETE], keys))
    for (zone, prefix), acts in parsed:
        enclosing = [(p, a) for (z, p), a in parsed if z == zone and p != prefix and prefix.startswith(p)]
        if not enclosing:
            continue
        reached = expand(frozenset().union(*(a for _, a in enclosing)))
        denied = reached - expand(acts)
        inner = [(p, a) for (z, p), a in parsed if z == zone and p != prefix and p.startswith(prefix)]
        for p, a in inner:
            if denied & expand(a):
                raise LakeError(
                    f"scope {scope(zone, p)} grants {sorted(denied & expand(a))}, which {scope(zone, prefix)} "
                    "withholds from it while an enclosing scope grants them: IAM cannot express that",
                    "grant the inner prefix no more than the prefix around it",
                )
        bucket, keys = bucket_arn(zone), f"{bucket_arn(zone)}/{prefix}*"
        if READ in denied:
            out.append(_stmt("Deny", S3_ACTIONS[READ], keys))
        if LIST in denied:
            out.append(_stmt("Deny", S3_ACTIONS[LIST], bucket, _prefix_condition(prefix)))
        if WRITE in denied and CREATE in denied:
            out.append(_stmt("Deny", S3_ACTIONS[WRITE], keys))
        elif WRITE in denied and conditional_writes:
            out.append(_stmt("Deny", S3_ACTIONS[CREATE], keys, WITHOUT_IF_NONE_MATCH))
        if DELETE in denied:
            out.append(_stmt("Deny", S3_ACTIONS[DELETE], keys))
    return _merge(out)


def _merge(statements: list[dict]) -> list[dict]:
    """Statements that differ only in their resources as one (IAM limits a role's policy size)."""
    merged: dict[str, dict] = {}
    for s in statements:
        key = json.dumps({k: v for k, v in s.items() if k != "Resource"}, sort_keys=True)
        if key in merged:
            merged[key]["Resource"].extend(r for r in s["Resource"] if r not in merged[key]["Resource"])
        else:
            merged[key] = {**s, "Resource": list(s["Resource"])}
    return list(merged.values())


def _prefix_condition(prefix: str) -> dict | None:
    return {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None


def _stmt(effect: str, actions: list[str], resource: str, condition: dict | None = None) -> dict:
    s: dict = {"Effect": effect, "Action": list(actions), "Resource": [resource]}
    if condition:
        s["Condition"] = condition
    return s


# --- the local server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    principal: str
    access_key: str
    secret_key: str


def dev_credentials(principal: str) -> Credentials:
    """Deterministic, public, local-only keys for `principal` (documented as such: not a secret)."""
    secret = hashlib.sha256(f"group-lake local dev server, not a secret: {principal}".encode()).hexdigest()[:40]
    return Credentials(principal, f"lake-dev-{principal}", secret)


def seaweed_config(grants: Policy | None = None, bucket_prefixes: Sequence[str] = ("",)) -> dict:
    """The policy as SeaweedFS `-s3.config` JSON: one identity per principal with its IAM policy attached.

    The administrator keeps SeaweedFS's own `Admin` action; every other identity has no legacy actions,
    so the server authorises it by its attached policy (the statements the cloud roles get). Each of
    `bucket_prefixes` names a lake on the server (zones are the buckets `<prefix><zone>`) on which every
    identity holds the same grants: the tests keep their lakes apart on one server with prefixes and still
    run the jobs as their own principals.
    """
    grants = policy() if grants is None else grants
    identities = [_identity(ADMIN, ["Admin", "Read", "Write", "List", "Tagging"])]
    policies = []
    for principal, scopes in grants.items():
        statements = _merge([
            s for prefix in dict.fromkeys(bucket_prefixes)
            for s in iam_statements(scopes, lambda z, p=prefix: f"arn:aws:s3:::{p}{z}", conditional_writes=False)
        ])
        name = f"lake-{principal}"
        policies.append({"name": name, "content": json.dumps({"Version": "2012-10-17", "Statement": statements})})
        identities.append(_identity(principal, [], [name]))
    return {"identities": identities, "policies": policies}


def _identity(principal: str, actions: list[str], policy_names: list[str] | None = None) -> dict:
    c = dev_credentials(principal)
    identity = {
        "name": principal,
        "credentials": [{"accessKey": c.access_key, "secretKey": c.secret_key}],
        "actions": actions,
    }
    if policy_names:
        identity["policyNames"] = policy_names
    return identity
