"""The ingestion engine: any landed file + its contract -> raw zone, quarantine and a manifest row.

Every file goes through the same steps:
  1. hash it; a file already landed is skipped (idempotent), the same bytes under a new name are
     recorded as a duplicate;
  2. read it in batches (`readers`), validate each batch with the contract's SQL (`validate`);
  3. stage good rows as zstd Parquet per partition and bad rows to quarantine, under `_staging/`;
  4. publish: write an intent, move the staged files into place, write the manifest row last.
A run killed at any point leaves published data intact; the next run rolls a written intent
forward or throws away staging that never reached one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from expectations import pii
from expectations.rules import SharingRules, load_rules
from ingestion import manifest as manifests
from ingestion.contracts import Contract, find_contract, load_contracts
from ingestion.readers import FileRejected, NeedExactLines, read_file
from ingestion.validate import FUTURE_GRACE_DAYS, CompiledContract, compile_contract
from lake import layout
from lake.storage import Lake

QUARANTINE_SCHEMA = pa.schema([
    ("batch_id", pa.string()),
    ("company", pa.string()),
    ("feed", pa.string()),
    ("source", pa.string()),
    ("line", pa.int64()),
    ("reason", pa.string()),
    ("action", pa.string()),  # rejected (row not landed) | redacted (row landed, PII removed) | file_rejected
    ("detail", pa.string()),
    ("record", pa.string()),
])
JST = dt.timezone(dt.timedelta(hours=9))

T = TypeVar("T")
Progress = Callable[[str, int], None]  # (description of the current file, bytes just processed)


@dataclass
class LandedFile:
    company: str
    feed: str
    name: str
    size: int
    lines: int | None = None

    @property
    def source(self) -> str:
        return f"{layout.landing(self.company)}/{self.feed}/{self.name}"


@dataclass
class RunSummary:
    rows: list[manifests.ManifestRow] = field(default_factory=list)
    skipped: int = 0
    recovered: int = 0


def fingerprint(lake: Lake, zone: str, path: str) -> tuple[str, int]:
    """The file's sha256 and its number of lines (a last line without a line break counts too)."""
    h = hashlib.sha256()
    newlines = 0
    last = b""
    with lake.open_input(zone, path) as f:
        while block := f.read(8 << 20):
            h.update(block)
            newlines += block.count(b"\n")
            last = block[-1:]
    return h.hexdigest(), newlines + (1 if last not in (b"\n", b"") else 0)


def batch_id_for(company: str, feed: str, name: str, sha: str) -> str:
    """Deterministic: the same file always gets the same batch id (and the same output paths)."""
    key = hashlib.sha256(f"{company}/{feed}/{name}/{sha}".encode()).hexdigest()[:16]
    return f"{company}-{feed}-{key}"


def landed_files(lake: Lake, companies: list[str]) -> list[LandedFile]:
    """Files waiting in the landing zones: `landing-<company>/<feed>/<file>`."""
    out = []
    for company in companies:
        for f in lake.stat_files(layout.landing(company)):
            parts = f.rel.split("/")
            if len(parts) != 2 or parts[1].startswith((".", "_")):
                continue
            out.append(LandedFile(company, parts[0], parts[1], f.size))
    return out


# --- publish protocol ------------------------------------------------------------------------

def _publish(lake: Lake, intent: dict) -> None:
    """Roll an intent forward: move every staged file into place, then commit the manifest row."""
    for zone, src, dst in intent["moves"]:
        if lake.exists(zone, layout.staging(intent["batch_id"], src)):
            lake.move(zone, layout.staging(intent["batch_id"], src), zone, dst)
    row = manifests.ManifestRow.from_dict(intent["manifest"])
    for key in ("started_at", "finished_at"):
        setattr(row, key, dt.datetime.fromisoformat(intent["manifest"][key]))
    manifests.write(lake, row)
    lake.delete(layout.OPS, layout.pending_publish(intent["batch_id"]))
    for zone in {m[0] for m in intent["moves"]}:
        lake.delete_dir(zone, layout.staging(intent["batch_id"], ""))


def recover(lake: Lake, companies: list[str]) -> int:
    """Finish publishes a killed run had committed to; discard staging that never got that far."""
    done = 0
    for path in lake.list_files(layout.OPS, layout.PENDING):
        intent = json.loads(lake.read_bytes(layout.OPS, path))
        _publish(lake, intent)
        done += 1
    for zone in [layout.raw(c) for c in companies] + [layout.QUARANTINE]:
        if lake.list_files(zone, layout.STAGING):
            lake.delete_dir(zone, layout.STAGING)
    return done


# --- one file --------------------------------------------------------------------------------

class _Batch:
    """Staged outputs of one file: Parquet writers per partition, and the quarantine writer."""

    def __init__(self, lake: Lake, contract: Contract, company: str, feed: str, batch_id: str, source: str):
        self.lake, self.contract, self.company, self.feed = lake, contract, company, feed
        self.batch_id, self.source = batch_id, source
        self.raw_zone = layout.raw(company)
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.moves: list[tuple[str, str, str]] = []
        self.quarantine: list[pa.Table] = []
        self.landed = self.quarantined = self.redacted = 0
        self.by_reason: dict[str, int] = {}

    def _writer(self, value: str, schema: pa.Schema) -> pq.ParquetWriter:
        if value not in self.writers:
            key = "date" if self.contract.partition_by == "date" else "snapshot"
            final = layout.raw_file(self.feed, key, value, self.batch_id)
            staged = layout.staging(self.batch_id, final)
            if not self.lake.is_s3:
                self.lake.fs.create_dir(self.lake.path(self.raw_zone, staged.rsplit("/", 1)[0]))
            self.writers[value] = pq.ParquetWriter(
                self.lake.path(self.raw_zone, staged), schema, filesystem=self.lake.fs, compression="zstd")
            self.moves.append((self.raw_zone, final, final))
        return self.writers[value]

    def split(self, checked: pa.Table) -> list[tuple[str, pa.Table]]:
        """Count and set aside bad rows; return the good rows as (partition value, rows) to write."""
        reason = checked.column("_reason")
        bad_mask = pc.is_valid(reason)
        n_bad = pc.sum(bad_mask).as_py() or 0
        good = checked if n_bad == 0 else checked.filter(pc.invert(bad_mask))
        if n_bad:
            bad = checked.filter(bad_mask)
            for r, c in zip(*_value_counts(bad.column("_reason")), strict=True):
                self.by_reason[r] = self.by_reason.get(r, 0) + c
            self._quarantine(bad, bad.column("_reason"), "rejected", bad.column("_detail"), bad.column("_record"))
            self.quarantined += n_bad
        if good.num_rows == 0:
            return []
        pii = good.column("_pii")
        hit = pc.fill_null(pc.greater(pc.list_value_length(pii), 0), False)
        n_hit = 0 if pii.null_count == len(pii) else pc.sum(hit).as_py() or 0
        if n_hit:
            red = good.filter(hit)
            kinds = pc.binary_join(red.column("_pii"), "+")
            self._quarantine(red, pa.array(["pii_in_free_text"] * red.num_rows), "redacted",
                             kinds, pa.nulls(red.num_rows, pa.string()))
            self.redacted += n_hit
            self.by_reason["pii_in_free_text"] = self.by_reason.get("pii_in_free_text", 0) + n_hit
        self.landed += good.num_rows
        data = _label_utc(good.select(["_line", *self.contract_columns()]))
        data = data.append_column("_batch_id", pa.array([self.batch_id] * good.num_rows, pa.string())
                                  .dictionary_encode())
        parts = good.column("_partition").cast(pa.string())
        values = pc.unique(parts).to_pylist()
        return [(v, data if len(values) == 1 else data.filter(pc.equal(parts, v))) for v in values]

    def write(self, value: str, piece: pa.Table) -> None:
        self._writer(value, piece.schema).write_table(piece)

    def contract_columns(self) -> list[str]:
        return [c.name for c in self.contract.columns]

    def _quarantine(self, rows: pa.Table, reason, action: str, detail, record) -> None:
        n = rows.num_rows
        self.quarantine.append(pa.table({
            "batch_id": pa.array([self.batch_id] * n),
            "company": pa.array([self.company] * n),
            "feed": pa.array([self.feed] * n),
            "source": pa.array([self.source] * n),
            "line": rows.column("_line"),
            "reason": reason,
            "action": pa.array([action] * n),
            "detail": detail,
            "record": record,
        }, schema=QUARANTINE_SCHEMA))

    def close(self) -> list[str]:
        for w in self.writers.values():
            w.close()
        if self.quarantine:
            final = layout.quarantine_rows(self.company, self.feed, self.batch_id)
            table = pa.concat_tables(self.quarantine)
            with self.lake.open_output(layout.QUARANTINE, layout.staging(self.batch_id, final)) as out:
                pq.write_table(table, out, compression="zstd")
            self.moves.append((layout.QUARANTINE, final, final))
        return sorted(self.writers)

    def abort(self) -> None:
        for w in self.writers.values():
            with contextlib.suppress(OSError):
                w.close()
        for zone in (self.raw_zone, layout.QUARANTINE):
            self.lake.delete_dir(zone, layout.staging(self.batch_id, ""))


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Run an iterator in a background thread, `depth` items ahead; exceptions surface in the caller."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as e:  # handed to the consumer, which re-raises it
            q.put((done, e))

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item, err = q.get()
            if item is done:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        t.join()


def _label_utc(table: pa.Table) -> pa.Table:
    """The validation query computes naive UTC timestamps; say so in the Parquet schema."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp("us", tz="UTC")))
    return table


def _value_counts(arr: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    vc = pc.value_counts(arr)
    return vc.field("values").to_pylist(), vc.field("counts").to_pylist()


def _future_limit(contract: Contract, name: str, now: dt.datetime) -> tuple[dt.datetime, str | None]:
    """Latest acceptable event time for a file, and the file's date (from its name) if it has one."""
    m = contract.match(name)
    date = m.groupdict().get("date") if m else None
    if date:
        day = dt.datetime.strptime(date, "%Y%m%d").replace(tzinfo=JST)
        return (day + dt.timedelta(days=FUTURE_GRACE_DAYS)).astimezone(dt.UTC), date
    return now + dt.timedelta(days=1), None


def _process(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    f: LandedFile,
    contract: Contract,
    compiled: CompiledContract,
    batch: _Batch,
    row: manifests.ManifestRow,
    progress: Progress | None,
    exact: bool,
) -> None:
    """Read, validate, split and write one file into `batch`."""
    with lake.open_input(layout.landing(f.company), f"{f.feed}/{f.name}") as stream:

        def read() -> Iterator[tuple[pa.Table, int]]:
            for table in read_file(stream, contract, f.name, exact, f.lines):
                yield table, stream.tell()

        def check(batches: Iterator[tuple[pa.Table, int]]) -> Iterator[tuple[pa.Table, int, int]]:
            for table, pos in batches:
                con.register("src", table)
                checked = con.execute(compiled.sql).to_arrow_table()
                con.unregister("src")
                for name in compiled.passthrough:
                    checked = checked.append_column(name, table.column(name))
                yield checked, table.num_rows, pos

        def split(checked: Iterator[tuple[pa.Table, int, int]]):
            for table, n_read, pos in checked:
                yield batch.split(table), n_read, pos

        # Reading, validating, splitting and writing overlap: each stage runs in its own thread
        # (Arrow and DuckDB release the GIL), with small bounded queues so memory stays flat.
        last_pos = 0
        for pieces, n_read, pos in prefetch(split(prefetch(check(prefetch(read()))))):
            row.rows_read += n_read
            for value, piece in pieces:
                batch.write(value, piece)
            if progress:
                progress(f.source, max(pos - last_pos, 0))
                last_pos = pos


def ingest_file(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    rules: SharingRules,
    contracts: list[Contract],
    f: LandedFile,
    sha: str,
    duplicate_of: str | None,
    progress: Progress | None = None,
) -> manifests.ManifestRow:
    """Ingest one file and publish it; returns its (committed) manifest row."""
    batch_id = batch_id_for(f.company, f.feed, f.name, sha)
    row = manifests.ManifestRow(batch_id=batch_id, company=f.company, feed=f.feed, source=f.source, sha256=sha)
    contract = find_contract(contracts, f.company, f.feed, f.name)
    row.contract = contract.path.name if contract else None
    batch = _Batch(lake, contract, f.company, f.feed, batch_id, f.source) if contract else None

    def reject(reason: str, detail: str, status: str = "rejected") -> None:
        if batch:
            batch.abort()
        row.status, row.reason, row.detail = status, reason, detail
        row.rows_read = row.rows_landed = row.rows_quarantined = row.rows_redacted = 0
        kept = layout.quarantine_file(f.company, f.feed, batch_id, f.name)
        staged = layout.staging(batch_id, kept)
        with lake.open_input(layout.landing(f.company), f"{f.feed}/{f.name}") as src, \
                lake.open_output(layout.QUARANTINE, staged) as out:
            while block := src.read(8 << 20):
                out.write(block)
        record = pa.table({
            "batch_id": [batch_id], "company": [f.company], "feed": [f.feed], "source": [f.source],
            "line": pa.nulls(1, pa.int64()), "reason": [reason], "action": ["file_rejected"],
            "detail": [detail], "record": [f"{layout.QUARANTINE}/{kept}"],
        }, schema=QUARANTINE_SCHEMA)
        rows_path = layout.quarantine_rows(f.company, f.feed, batch_id)
        with lake.open_output(layout.QUARANTINE, layout.staging(batch_id, rows_path)) as out:
            pq.write_table(record, out)
        moves.extend([(layout.QUARANTINE, kept, kept), (layout.QUARANTINE, rows_path, rows_path)])

    moves: list[tuple[str, str, str]] = []
    if duplicate_of:
        reject("duplicate_file", f"{f.name} has the same bytes as {duplicate_of}, already landed; nothing new",
               status="duplicate")
    elif contract is None or batch is None:
        reject("no_contract", f"no contract in ingestion/contracts matches {f.feed}/{f.name} for {f.company}; "
               "add one or fix the file name")
    else:
        limit, file_date = _future_limit(contract, f.name, row.started_at)
        compiled = compile_contract(contract, rules, batch_id=batch_id, future_limit=limit,
                                    partition_value=file_date)
        try:
            try:
                _process(lake, con, f, contract, compiled, batch, row, progress, exact=False)
            except NeedExactLines:
                batch.abort()
                batch = _Batch(lake, contract, f.company, f.feed, batch_id, f.source)
                row.rows_read = 0
                _process(lake, con, f, contract, compiled, batch, row, None, exact=True)
            row.partitions = batch.close()
            moves.extend(batch.moves)
            row.rows_landed, row.rows_quarantined, row.rows_redacted = batch.landed, batch.quarantined, batch.redacted
            row.detail = json.dumps(batch.by_reason, sort_keys=True) if batch.by_reason else None
        except FileRejected as e:
            reject(e.reason, e.detail)
    row.finished_at = dt.datetime.now(dt.UTC)
    intent = {"batch_id": batch_id, "moves": moves, "manifest": _jsonable(row)}
    lake.write_bytes(layout.OPS, layout.pending_publish(batch_id), json.dumps(intent).encode())
    _publish(lake, intent)
    return row


def _jsonable(row: manifests.ManifestRow) -> dict:
    d = dict(row.__dict__)
    d["started_at"] = row.started_at.isoformat()
    d["finished_at"] = row.finished_at.isoformat() if row.finished_at else None
    return d


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    pii.duckdb_register(con)  # the NFKC function the free-text redaction calls
    return con


def ingest(
    lake: Lake,
    companies: list[str] | None = None,
    *,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Ingest every new file in the landing zones of `companies` (default: all in the sharing rules)."""
    rules = load_rules()
    contracts = load_contracts()
    companies = companies or list(rules.companies)
    summary = RunSummary()
    summary.recovered = recover(lake, list(rules.companies))
    lake.ensure_zones(layout.all_zones(list(rules.companies)))
    existing = manifests.read_all(lake)
    seen = {(r["company"], r["feed"], r["source"], r["sha256"]) for r in existing.to_pylist()}
    # A resend is the same bytes in the same company's feed; equal files of different companies
    # (say two empty category lists) are not duplicates of each other.
    landed_by_sha = {(r["company"], r["feed"], r["sha256"]): r["source"]
                     for r in existing.to_pylist() if r["status"] == "landed"}
    files = landed_files(lake, companies)
    if on_start:
        on_start(len(files), sum(f.size for f in files))
    con = connect()
    for f in files:
        sha, f.lines = fingerprint(lake, layout.landing(f.company), f"{f.feed}/{f.name}")
        if (f.company, f.feed, f.source, sha) in seen:
            summary.skipped += 1
            if progress:
                progress(f.source, f.size)
            continue
        key = (f.company, f.feed, sha)
        row = ingest_file(lake, con, rules, contracts, f, sha, landed_by_sha.get(key), progress)
        if row.status == "landed":
            landed_by_sha.setdefault(key, f.source)
        seen.add((f.company, f.feed, f.source, sha))
        summary.rows.append(row)
    return summary
