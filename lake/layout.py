"""The one place that knows the lake layout: zones, and where each kind of file goes.

A zone is a bucket on S3 and a top-level folder locally, so access can be granted per zone
(DESIGN §2). Paths below are relative to the zone.
"""

from __future__ import annotations

QUARANTINE = "quarantine"
GROUP = "group"
MARTS = "marts"
EXPORTS = "exports"
OPS = "ops"
SHARED_ZONES = (QUARANTINE, GROUP, MARTS, EXPORTS, OPS)

STAGING = "_staging"  # leading underscore: Spark, DuckDB globs and Hive readers skip it


def landing(company: str) -> str:
    return f"landing-{company}"


def raw(company: str) -> str:
    return f"raw-{company}"


def zone_kind(zone: str) -> str:
    """The kind of a zone, as the sharing rules' `retention_days` name it: `raw-cvs` -> `raw`."""
    for kind in ("landing", "raw"):
        if zone.startswith(f"{kind}-"):
            return kind
    if zone in SHARED_ZONES:
        return zone
    raise ValueError(f"{zone!r} is not a zone of the lake")


def all_zones(companies: list[str]) -> list[str]:
    """Every bucket of the lake, in a stable order."""
    per_company = [z for c in companies for z in (landing(c), raw(c))]
    return per_company + list(SHARED_ZONES)


# --- raw zone -------------------------------------------------------------------------------

def raw_partition(feed: str, key: str, value: str) -> str:
    """Folder of one partition of a feed in `raw-<company>`, e.g. `pos/date=2026-08-01`."""
    return f"{feed}/{key}={value}"


def raw_file(feed: str, key: str, value: str, batch_id: str) -> str:
    return f"{raw_partition(feed, key, value)}/part-{batch_id}.parquet"


def parse_raw_file(rel: str) -> tuple[str, str, str, str] | None:
    """(feed, partition key, partition value, batch id) of a published raw file, or None for anything else
    (staging, hidden and temporary files)."""
    parts = rel.split("/")
    if len(parts) != 3 or not parts[2].startswith("part-") or not parts[2].endswith(".parquet"):
        return None
    key, sep, value = parts[1].partition("=")
    if not sep:
        return None
    return parts[0], key, value, parts[2][len("part-") : -len(".parquet")]


# --- group zone ---------------------------------------------------------------------------

def group_partition(table: str, column: str, value: str) -> str:
    """Folder of one partition of a group table, e.g. `purchases/purchase_date=2026-08-01`."""
    return f"{table}/{column}={value}"


def group_staging(run_id: str, table: str = "") -> str:
    """Where a transform run writes a table before publishing it (`_staging/<run>/<table>`, skipped by readers)."""
    return f"{STAGING}/{run_id}/{table}".rstrip("/")


RECONCILIATION_FILE = "reconciliation/part-00000.parquet"


# --- quarantine -----------------------------------------------------------------------------

def quarantine_rows(company: str, feed: str, batch_id: str) -> str:
    return f"rows/company={company}/feed={feed}/part-{batch_id}.parquet"


def quarantine_file(company: str, feed: str, batch_id: str, name: str) -> str:
    """Where a file rejected whole is kept, byte for byte (`feed` and `name` already made safe)."""
    return f"files/{company}/{feed}/{batch_id}/{name}"


def safe_name(text: str, limit: int = 120) -> str:
    """A landing path made into one harmless file name: no separators, no `..`, no control characters."""
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in text.replace("/", "__"))
    out = out.lstrip(".") or "_"
    return out[:limit]


# --- exports --------------------------------------------------------------------------------

def exports_prefix(company: str) -> str:
    """Where a company's segment files go in the `exports` zone; its credentials reach only this prefix."""
    return f"{company}/"


def export_file(company: str, campaign_id: str, ext: str) -> str:
    """One export's member file: `<company>/<campaign id>/<campaign id>.<csv|parquet>` in the exports zone."""
    return f"{exports_prefix(company)}{campaign_id}/{campaign_id}.{ext}"


# --- marts ---------------------------------------------------------------------------------

# The analyst database: the marts as tables of one DuckDB file that the analyst connection attaches
# read-only. Every publish writes a new, never-rewritten file (an S3 reader attached to an object that is
# replaced mid-session reads garbage), named by time so the newest sorts last.
ANALYST_DBS = "analyst"


def analyst_db(stamp: str) -> str:
    return f"{ANALYST_DBS}/{stamp}.duckdb"


# --- ops ------------------------------------------------------------------------------------

MANIFESTS = "manifests/ingest"  # the ingest history, a hash-chained ledger (`<seq>.json` per event); append-only
                                # for the jobs (infra.access): records are added, never replaced
EXPORT_AUDIT = "audit/exports"  # the export audit log, append-only like the manifests
# The hash-chained ledgers (`lake.ledger`) of the ops zone, by what they record: `lake ledgers` verifies each.
LEDGERS = {"ingest manifests": MANIFESTS, "export audit log": EXPORT_AUDIT}
MANIFEST_TABLE = "manifests/batches"  # the history's current state, one row per batch (rewritten by every run)
PENDING = "manifests/_pending"
LOCKS = "locks"


def manifest_table() -> str:
    """The batch states derived from the ingest history, as Parquet for SQL readers (dashboards, annotations)."""
    return f"{MANIFEST_TABLE}/batches.parquet"


def lock(stage: str) -> str:
    """The lock of one stage on this lake (a locked file locally, a lease object on S3)."""
    return f"{LOCKS}/{stage}.lock"


def pending_publish(batch_id: str) -> str:
    """The publish intent of a batch: written once everything is staged (roll-forward point)."""
    return f"{PENDING}/{batch_id}.json"


def staging(batch_id: str, path: str) -> str:
    return f"{STAGING}/{batch_id}/{path}"


GENERATOR = "generator"
TRANSFORM_STATE = "transforms/processed.json"  # what the group zone was built from

# --- run metrics (ops time series) ------------------------------------------------------------

RUNS = "runs"


def run_record(stage: str, started: str, run_id: str) -> str:
    """One run of one stage: `runs/stage=<stage>/date=<YYYY-MM-DD>/<run id>.parquet` (`started` is ISO UTC)."""
    return f"{RUNS}/stage={stage}/date={started[:10]}/{run_id}.parquet"


# --- dashboards and alerts ----------------------------------------------------------------------

DEPLOYMENTS = "deployments"


def deployment_record(deployed_at: str, deployment_id: str) -> str:
    """One deployment (`lake dashboards annotate`): `deployments/date=<YYYY-MM-DD>/<id>.parquet`."""
    return f"{DEPLOYMENTS}/date={deployed_at[:10]}/{deployment_id}.parquet"


# The ops tables the dashboards and the annotations mart read, by name (dbt gets this map as the var `ops_tables`).
OPS_TABLES = {"runs": RUNS, "manifests": MANIFEST_TABLE, "deployments": DEPLOYMENTS}

ALERTS_SENT = "alerts/sent"


def alert_sent(event_id: str) -> str:
    """The record that an alert's event was posted (so each event is posted once)."""
    return f"{ALERTS_SENT}/{event_id}.json"


# --- segment exports (ops) --------------------------------------------------------------------

def export_snapshot(sha256: str) -> str:
    """Membership snapshot of an export attempt (gid, campaign_id, assigned_group), content-addressed, referenced by
    its audit record; inside the audit log's prefix, so the same append-only grant covers it (the ledger reads only
    `<seq>.json`)."""
    return f"{EXPORT_AUDIT}/snapshots/{sha256}.parquet"


EXPORT_REGISTRY = "exports"  # ops: campaigns registered by exports, read by dbt like hq's campaigns


def registered_campaign(campaign_id: str) -> str:
    return f"{EXPORT_REGISTRY}/campaigns/{campaign_id}.parquet"


def registered_assignments(campaign_id: str) -> str:
    return f"{EXPORT_REGISTRY}/campaign_assignments/{campaign_id}.parquet"

# --- quality gates and retention (expectations/) ----------------------------------------------

GATE_RESULTS = "quality/results"
DATA_DOCS = "quality/data_docs"  # Great Expectations Data Docs (a local lake; on S3 they go to the state folder)
RETENTION_LOG = "retention"


def gate_results(gate: str, started: str, run_id: str) -> str:
    """One gate run: `quality/results/gate=<gate>/date=<YYYY-MM-DD>/<run id>.parquet`, a row per expectation."""
    return f"{GATE_RESULTS}/gate={gate}/date={started[:10]}/{run_id}.parquet"


def retention_record(started: str, run_id: str) -> str:
    """What one retention run found and deleted: `retention/date=<YYYY-MM-DD>/<run id>.parquet`."""
    return f"{RETENTION_LOG}/date={started[:10]}/{run_id}.parquet"
