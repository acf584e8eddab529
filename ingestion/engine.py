"""The ingestion engine: every file in the landing zones -> raw zone, quarantine and the manifest history.

Every file of a landing zone, at any depth and with any name, goes through the same steps:
  1. classify it: `<feed>/<file>` with a contract is read; anything else is quarantined whole with a
     reason (`unexpected_location`, `hidden_file`, `no_contract`);
  2. skip it when its bytes are what the history already holds for that path (idempotent);
  3. one pass over its bytes: read (hash, gunzip, limits: `readers`), validate and write in one DuckDB
     statement (the contract's query from `validate`, `COPY ... PARTITION_BY` to zstd Parquet), with
     rejected rows handed to the quarantine writer; everything staged under `_staging/`;
  4. quarantine records repeated inside the file (`duplicate_record`), count what was written;
  5. publish: write an intent, move the staged files into place, record the events in the history
     (the commit point), then delete the files of the batch a correction replaced.
A run killed at any point leaves published data intact; the next run rolls a written intent forward
or throws away staging that never reached one. One file's failure never stops the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from expectations import pii
from expectations.rules import SharingRules, load_rules
from ingestion import manifest as manifests
from ingestion.contracts import Contract, find_contract, load_contracts
from ingestion.readers import FileRejected, describe_invisible, open_reader
from ingestion.validate import (
    DUPLICATE_REASON,
    FUTURE_GRACE_DAYS,
    READER_REASONS,
    REDACTION_REASON,
    CompiledContract,
    compile_contract,
    lit,
    q,
    session_setup,
)
from lake import layout, locks, runlog
from lake.errors import LakeError
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
# The RE2 form of readers.INVISIBLE, to re-read rejected records in Arrow.
_INVISIBLE_RE2 = (r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2060}-\x{2064}"
                  r"\x{feff}\x{fffd}\x{e000}-\x{f8ff}]")

Progress = Callable[[str, int], None]  # (description of the current file, bytes just processed)
# Raw-zone files: zstd at level 1 and Parquet 2 encodings (delta-packed line numbers and timestamps). On
# the 10M-row cvs benchmark both are faster to write than the defaults and give smaller files.
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARQUET_VERSION V2"


class InfraError(Exception):
    """Storage or engine trouble while ingesting one file: nothing is recorded, the next run retries."""


@dataclass
class LandedFile:
    """A file in a landing zone, wherever it is."""

    company: str
    rel: str  # path inside landing-<company>
    size: int
    mtime: str | None = None

    @property
    def parts(self) -> list[str]:
        return self.rel.split("/")

    @property
    def feed(self) -> str:
        return self.parts[0] if len(self.parts) > 1 else ""

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def source(self) -> str:
        return f"{layout.landing(self.company)}/{self.rel}"

    def problem(self) -> tuple[str, str, bool] | None:
        """(reason, detail, readable) when the file is not where extracts go, else None."""
        zone = layout.landing(self.company)
        parts = self.parts
        if any(p in ("", ".", "..") for p in parts):
            # only an object store can hold such a key; reading it could resolve to another object
            return ("unexpected_location", f"{self.rel!r} has empty, `.` or `..` path segments; not read. "
                    f"Extracts go in {zone}/<feed>/<file>", False)
        if self.name.startswith((".", "_")):
            return ("hidden_file", f"{self.rel!r} is hidden (a name starting with `.` or `_`, as temporary and "
                    f"marker files have); extracts go in {zone}/<feed>/<file> with their agreed names", True)
        if len(parts) == 1:
            return ("unexpected_location", f"{self.rel!r} is at the root of {zone}; extracts go in "
                    f"{zone}/<feed>/<file>", True)
        if len(parts) > 2:
            return ("unexpected_location", f"{self.rel!r} is in a subfolder; extracts go directly in "
                    f"{zone}/<feed>/ (move it there, it is then ingested)", True)
        return None


@dataclass
class RunSummary:
    rows: list[manifests.ManifestRow] = field(default_factory=list)
    skipped: int = 0
    recovered: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, error): not recorded, retried next run
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (old batch, new batch)
    run_id: str | None = None

    @property
    def rejected(self) -> list[manifests.ManifestRow]:
        return [r for r in self.rows if r.status == "rejected"]


def batch_id_for(company: str, feed: str, rel: str, generation: int = 0) -> str:
    """Deterministic: the `generation`-th delivery to a landing path always gets the same batch id (and the
    same output paths), so a re-run after a crash writes the same files. Known before reading the file."""
    key = f"{company}/{rel}" + (f"/{generation}" if generation else "")
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{company}-{layout.safe_name(feed, 40) or '_'}-{digest}"


def landed_files(lake: Lake, companies: list[str]) -> list[LandedFile]:
    """Every file in the landing zones of `companies`, at any depth, with any name."""
    out = []
    for company in companies:
        for f in lake.stat_files(layout.landing(company)):
            mtime = f.mtime.astimezone(dt.UTC).isoformat() if f.mtime else None
            out.append(LandedFile(company, f.rel, f.size, mtime))
    return out


def who() -> str:
    """Who is doing it, for the history: `LAKE_USER`, else the login name."""
    with contextlib.suppress(Exception):
        return os.environ.get("LAKE_USER") or getpass.getuser()
    return "unknown"


# --- publish protocol ------------------------------------------------------------------------

def _publish(lake: Lake, history: manifests.History, intent: dict) -> None:
    """Roll an intent forward: move staged files into place, record the events (the commit point),
    delete what the events removed, then forget the intent. Every step may be repeated."""
    for zone, src, dst in intent["moves"]:
        if lake.exists(zone, src):
            lake.move(zone, src, zone, dst)
    for rec in intent["records"]:
        history.append(rec)
    for zone, rel in intent.get("deletes", []):
        lake.delete(zone, rel)
    lake.delete(layout.OPS, layout.pending_publish(intent["batch_id"]))
    for zone in {m[0] for m in intent["moves"]}:
        lake.delete_dir(zone, layout.staging(intent["batch_id"], ""))


def _commit(lake: Lake, history: manifests.History, intent: dict) -> None:
    lake.write_bytes(layout.OPS, layout.pending_publish(intent["batch_id"]), json.dumps(intent).encode())
    _publish(lake, history, intent)


def recover(lake: Lake, history: manifests.History, companies: list[str]) -> int:
    """Finish publishes a killed run had committed to; discard staging that never got that far."""
    done = 0
    for path in lake.list_files(layout.OPS, layout.PENDING):
        intent = json.loads(lake.read_bytes(layout.OPS, path))
        _publish(lake, history, intent)
        done += 1
    for zone in [layout.raw(c) for c in companies] + [layout.QUARANTINE]:
        if lake.list_files(zone, layout.STAGING):
            lake.delete_dir(zone, layout.STAGING)
    return done


# --- the work area of one batch --------------------------------------------------------------

class Workspace:
    """Local folders where DuckDB writes a batch: inside the zones' staging folders for a local lake
    (so publishing is a rename), a temporary folder for S3 (uploaded to staging before publishing)."""

    def __init__(self, lake: Lake, company: str, feed: str, batch_id: str) -> None:
        self.lake, self.company, self.feed, self.batch_id = lake, company, feed, batch_id
        self.raw_zone = layout.raw(company)
        self._tmp = Path(tempfile.mkdtemp(prefix=f"ingest-{batch_id}-"))
        self.scratch = self._tmp
        if lake.is_s3:
            self.raw_dir = self._tmp / "raw"
            self.quarantine_dir = self._tmp / "quarantine"
        else:
            self.raw_dir = Path(lake.path(self.raw_zone, layout.staging(batch_id, "")))
            self.quarantine_dir = Path(lake.path(layout.QUARANTINE, layout.staging(batch_id, "")))
        for d in (self.raw_dir.parent, self.quarantine_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.quarantine_path = self.quarantine_dir / "rows.parquet"

    def raw_files(self) -> dict[str, list[Path]]:
        """Partition value -> the Parquet files DuckDB wrote for it."""
        out: dict[str, list[Path]] = {}
        if self.raw_dir.exists():
            for p in sorted(self.raw_dir.glob("*=*/*.parquet")):
                out.setdefault(p.parent.name.split("=", 1)[1], []).append(p)
        return out

    def stage(self, key: str, partitions: dict[str, Path], quarantine: bool) -> list[tuple[str, str, str]]:
        """Bring the batch's files into the zones' staging folders; the moves that publish them."""
        moves = []
        for value, path in sorted(partitions.items()):
            final = layout.raw_file(self.feed, key, value, self.batch_id)
            moves.append((self.raw_zone, self._put(self.raw_zone, path), final))
        if quarantine:
            final = layout.quarantine_rows(self.company, layout.safe_name(self.feed, 40) or "_", self.batch_id)
            moves.append((layout.QUARANTINE, self._put(layout.QUARANTINE, self.quarantine_path), final))
        return moves

    def _put(self, zone: str, path: Path) -> str:
        base = self.raw_dir if zone == self.raw_zone else self.quarantine_dir
        rel = layout.staging(self.batch_id, path.relative_to(base).as_posix())
        if self.lake.is_s3:
            with path.open("rb") as src, self.lake.open_output(zone, rel) as out:
                shutil.copyfileobj(src, out, 8 << 20)
        return rel

    def discard(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        if not self.lake.is_s3:
            shutil.rmtree(self.raw_dir, ignore_errors=True)
            shutil.rmtree(self.quarantine_dir, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


class QuarantineSink:
    """Rejected and redacted rows of one file, handed over by DuckDB one row at a time (`take_rejected`,
    `take_redacted`) or in vectors (`add`), written in bounded pieces."""

    FLUSH_ROWS = 65_536

    def __init__(self, path: Path, batch_id: str, company: str, feed: str, source: str) -> None:
        self.path, self.batch_id, self.company, self.feed, self.source = path, batch_id, company, feed, source
        self._lock = threading.Lock()
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self.rejected = self.redacted = 0
        self.by_reason: dict[str, int] = {}
        self.rejected_lines: list[pa.Array] = []  # for the duplicate check of receipt runs
        self._rejected_rows: list[tuple] = []  # handed over by the COPY, not yet in Arrow
        self._redacted_rows: list[tuple] = []

    # Called by DuckDB for each row the COPY rejects or redacts (a scalar Python function: rows that break a
    # rule are few, and an Arrow function costs DuckDB a dataset scan of its result in every vector).
    # Under the lock: DuckDB's threads call in turn, and the interpreter may switch between them between reading
    # the list and appending to it, which without the lock could append to a list `drain` has just taken.
    def take_rejected(self, line: int, reason: str, detail: str | None, record: str | None) -> bool:
        with self._lock:
            self._rejected_rows.append((line, reason, detail, record))
            full = len(self._rejected_rows) >= self.FLUSH_ROWS
        if full:
            self.drain()
        return False

    def take_redacted(self, line: int, kinds: list[str]) -> bool:
        with self._lock:
            self._redacted_rows.append((line, "+".join(kinds)))
            full = len(self._redacted_rows) >= self.FLUSH_ROWS
        if full:
            self.drain()
        return True

    def drain(self) -> None:
        """Move the rows handed over one at a time into the Arrow pieces (and the counts)."""
        with self._lock:
            rejected, self._rejected_rows = self._rejected_rows, []
            redacted, self._redacted_rows = self._redacted_rows, []
        if rejected:
            line, reason, detail, record = zip(*rejected, strict=True)
            self.add(pa.array(line, pa.int64()), pa.array(reason, pa.string()), "rejected",
                     pa.array(detail, pa.string()), pa.array(record, pa.string()))
        if redacted:
            line, kinds = zip(*redacted, strict=True)
            n = len(line)
            self.add(pa.array(line, pa.int64()), pa.repeat(pa.scalar(REDACTION_REASON), n), "redacted",
                     pa.array(kinds, pa.string()), pa.nulls(n, pa.string()))

    def add(self, line: pa.Array, reason: pa.Array, action: str, detail: pa.Array, record: pa.Array) -> None:
        n = len(line)
        if not n:
            return
        if action == "rejected":
            reason, detail = _reread_invisible(reason, detail, record)
        table = pa.table({
            "batch_id": pa.repeat(pa.scalar(self.batch_id), n), "company": pa.repeat(pa.scalar(self.company), n),
            "feed": pa.repeat(pa.scalar(self.feed), n), "source": pa.repeat(pa.scalar(self.source), n),
            "line": line.cast(pa.int64()), "reason": reason.cast(pa.string()),
            "action": pa.repeat(pa.scalar(action), n),
            "detail": detail.cast(pa.string()), "record": record.cast(pa.string()),
        }, schema=QUARANTINE_SCHEMA)
        counts = pc.value_counts(table.column("reason")).to_pylist()
        with self._lock:
            for c in counts:
                self.by_reason[c["values"]] = self.by_reason.get(c["values"], 0) + c["counts"]
            if action == "rejected":
                self.rejected += n
                self.rejected_lines.append(table.column("line").combine_chunks())
            else:
                self.redacted += n
            self._pending.append(table)
            self._pending_rows += n
            if self._pending_rows >= self.FLUSH_ROWS:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, QUARANTINE_SCHEMA, compression="zstd")
        self._writer.write_table(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0

    def close(self) -> bool:
        """Write what is left; True when the batch has quarantine rows."""
        with self._lock:
            self._flush()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                return True
            return False

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()


def _reread_invisible(reason: pa.Array, detail: pa.Array, record: pa.Array) -> tuple[pa.Array, pa.Array]:
    """A value rule broken by a never-data character is an encoding fault: say so, naming the character."""
    hit = pc.fill_null(pc.match_substring_regex(record, _INVISIBLE_RE2), False)
    hit = pc.and_(hit, pc.invert(pc.is_in(reason, pa.array(READER_REASONS))))
    if not pc.any(hit).as_py():
        return reason, detail
    idx = pc.indices_nonzero(hit).to_pylist()
    reasons, details = reason.to_pylist(), detail.to_pylist()
    records = record.to_pylist()
    for i in idx:
        details[i] = f"{describe_invisible(records[i] or '')}, which made it {reasons[i]}: {details[i]}"
        reasons[i] = "bad_encoding"
    return pa.array(reasons, pa.string()), pa.array(details, pa.string())


# --- reading a file into the workspace -------------------------------------------------------

@dataclass
class Outcome:
    """What reading a file produced, before publishing."""

    sha: str
    rows_read: int
    landed_by_copy: int
    drift: list[str] = field(default_factory=list)
    ordered: bool = False  # the duplicate key only grows along the file: no duplicate is possible


class _OrderCheck:
    """Along the file, does the duplicate key only grow? Then no record can repeat an earlier one."""

    def __init__(self, contract: Contract) -> None:
        dup = contract.duplicates
        self.column = dup.receipt or (dup.key[0] if len(dup.key) == 1 else None)
        self.strict = dup.receipt is None
        self.ok = self.column is not None and contract.format == "csv"
        self.last: str | None = None

    def see(self, batch: pa.RecordBatch) -> None:
        if not self.ok:
            return
        v = batch.column(self.column)
        if v.null_count:
            v = v.drop_null()
        if not len(v):
            return
        if self.last is not None:
            first = v[0].as_py()
            if (first <= self.last) if self.strict else (first < self.last):
                self.ok = False
                return
        if len(v) > 1:
            a, b = v.slice(0, len(v) - 1), v.slice(1)
            good = pc.less(a, b) if self.strict else pc.less_equal(a, b)
            if not pc.all(good).as_py():
                self.ok = False
                return
        self.last = v[-1].as_py()


class _Producer:
    """The reader's batches as an Arrow stream for DuckDB: counts, progress, the encoding threshold, and the
    exception that stopped it (DuckDB reports it only as text)."""

    def __init__(self, reader, source, contract: Contract, label: str, progress: Progress | None) -> None:
        self.reader, self.source, self.contract, self.label = reader, source, contract, label
        self.progress = progress
        self.error: BaseException | None = None
        self.order = _OrderCheck(contract)
        self._reported = 0

    def stream(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.reader.schema(), self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.reader.batches():
                self._check_encoding(final=False)
                self.order.see(batch)
                if self.progress:
                    self.progress(self.label, self.source.stored - self._reported)
                    self._reported = self.source.stored
                yield batch
            self._check_encoding(final=True)
        except BaseException as e:
            self.error = e
            raise

    def _check_encoding(self, final: bool) -> None:
        lim = self.contract.limits
        bad, n = self.reader.bad_encoding, self.reader.records
        if bad and n >= lim.min_records_for_encoding and bad > lim.max_bad_encoding_share * n:
            where = "" if final else f" in the first {n:,} records"
            raise FileRejected("wrong_encoding", f"{bad:,} records{where} are not {self.contract.encoding} "
                               f"(more than {lim.max_bad_encoding_share:.0%}); the file is in another encoding: "
                               f"ask {self.contract.company} to resend it in {self.contract.encoding}")


class Duck:
    """The run's one DuckDB connection (opening one costs more than ingesting a small file), with the two
    functions through which the COPY hands rejected and redacted rows to the current file's sink."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ingest-duckdb-"))
        self.con = duckdb.connect(config={"threads": max(os.cpu_count() or 1, 1)})
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")  # partitioned files need no global order
        self.con.execute("SET memory_limit = '1GB'")  # spill, do not grow, whatever the file size
        self.con.execute(f"SET temp_directory = {lit(str(self.tmp))}")
        self.con.execute("SET enable_progress_bar = false")
        session_setup(self.con)
        pii.duckdb_register(self.con)  # the NFKC function the free-text redaction calls
        self.sink: QuarantineSink | None = None
        _register_sinks(self.con, self)

    def copy(self, sql: str) -> int:
        """Run a validating COPY; the number of rows it wrote.

        Filter pushdown is off for it: the optimizer would inline the whole rule chain behind `_reason`
        into the filter below the projection, so every row's rules ran twice (filter and projection),
        with the constant lists rebuilt each time; kept above, they run once (4x faster on cvs files)."""
        self.con.execute("SET disabled_optimizers = 'filter_pushdown'")
        try:
            copied = int(self.con.execute(sql).fetchone()[0])
        finally:
            self.con.execute("RESET disabled_optimizers")
        if self.sink is not None:
            self.sink.drain()
        return copied

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _copy_sql(compiled: CompiledContract, contract: Contract, batch_id: str, out_dir: Path, key: str) -> str:
    # The naive-UTC timestamps labelled UTC from their microseconds: the instant `CAST(... AS TIMESTAMPTZ)` gives
    # under `TimeZone = 'UTC'`, whatever the session's zone, without that cast's ICU calendar per row (17x faster
    # on 5M timestamps, about a second of CPU per 10M-row file).
    cols = ", ".join(f"make_timestamptz(epoch_us({q(c)})) AS {q(c)}" if c in compiled.timestamps else q(c)
                     for c in compiled.output_columns)
    keep = ("CASE WHEN _reason IS NULL AND _pii IS NULL THEN true "
            "WHEN _reason IS NULL THEN lake_redacted(_line, _pii) "
            "ELSE lake_rejected(_line, _reason, _detail, _record) END")
    return (f"COPY (SELECT _line, {cols}, {lit(batch_id)} AS _batch_id, _partition AS {q(key)} "
            f"FROM ({compiled.sql}) WHERE {keep}) "
            f"TO {lit(str(out_dir))} ({PARQUET_OPTIONS}, PARTITION_BY ({q(key)}), "
            f"FILENAME_PATTERN 'part-{{i}}', OVERWRITE_OR_IGNORE true)")


def _register_sinks(con: duckdb.DuckDBPyConnection, duck: Duck) -> None:
    def rejected(line, reason, detail, record):
        return duck.sink.take_rejected(line, reason, detail, record)

    def redacted(line, pii):
        return duck.sink.take_redacted(line, pii)

    # side_effects: DuckDB must call them once per row that reaches them, never fold or repeat them;
    # null_handling special: a row with a null detail or record is still handed over (by default DuckDB
    # would answer null for it without calling, and the row would vanish).
    con.create_function("lake_rejected", rejected, ["BIGINT", "VARCHAR", "VARCHAR", "VARCHAR"], "BOOLEAN",
                        type="native", side_effects=True, null_handling="special")
    con.create_function("lake_redacted", redacted, ["BIGINT", "VARCHAR[]"], "BOOLEAN", type="native",
                        side_effects=True, null_handling="special")


def _future_limit(contract: Contract, name: str, now: dt.datetime) -> tuple[dt.datetime, str | None]:
    """Latest acceptable event time for a file, and the file's date (from its name) if it has one."""
    m = contract.match(name)
    date = m.groupdict().get("date") if m else None
    if date:
        day = dt.datetime.strptime(date, "%Y%m%d").replace(tzinfo=JST)
        return (day + dt.timedelta(days=FUTURE_GRACE_DAYS)).astimezone(dt.UTC), date
    return now + dt.timedelta(days=1), None


def _read_stream(lake: Lake, f: LandedFile, contract: Contract, compiled_for, ws: Workspace, sink: QuarantineSink,
                 key: str, progress: Progress | None, duck: Duck) -> Outcome:
    """CSV and JSON Lines: the reader's Arrow stream -> one DuckDB COPY that validates and writes."""
    with lake.open_input(layout.landing(f.company), f.rel) as stream:
        source, reader = open_reader(stream, contract, f.name)
        producer = _Producer(reader, source, contract, f.source, progress)
        con = duck.con
        duck.sink = sink
        try:
            con.register("src", producer.stream())
            compiled = compiled_for(None)
            try:
                copied = duck.copy(_copy_sql(compiled, contract, ws.batch_id, ws.raw_dir, key))
            except duckdb.Error as e:
                if producer.error is not None:
                    raise producer.error from None
                raise InfraError(f"DuckDB failed on {f.source}: {e}") from e
            if producer.error is not None:
                raise producer.error
            header = getattr(reader, "header", None)
            drift = header.extra if header is not None else list(getattr(reader, "drift", []))
            if not source.finished:
                source.drain()
            return Outcome(source.sha256, reader.records, int(copied), drift, producer.order.ok)
        finally:
            con.unregister("src")
            duck.sink = None


def _read_parquet(lake: Lake, f: LandedFile, contract: Contract, compiled_for, ws: Workspace,
                  sink: QuarantineSink, key: str, progress: Progress | None, duck: Duck) -> Outcome:
    """Parquet: hashed on the way to a local file DuckDB reads itself (with `file_row_number`)."""
    local = ws.scratch / "input.parquet"
    h = hashlib.sha256()
    with lake.open_input(layout.landing(f.company), f.rel) as src, local.open("wb") as out:
        while block := src.read(8 << 20):
            h.update(block)
            out.write(block)
            if progress:
                progress(f.source, len(block))
    try:
        pf = pq.ParquetFile(local)
        names = pf.schema_arrow.names
        rows = pf.metadata.num_rows
    except (pa.ArrowInvalid, OSError) as e:
        raise FileRejected("unreadable_file", f"{f.name} is not a readable Parquet file ({e})") from None
    if not rows and not names:
        raise FileRejected("empty_file", f"{f.name} holds no columns and no rows")
    missing = [c.source for c in contract.columns if c.required and c.source not in names]
    if missing:
        raise FileRejected("missing_columns", f"{f.name} lacks required column(s) {', '.join(missing)}")
    declared = {c.source for c in contract.columns}
    extra = [n for n in names if n not in declared]
    if extra and contract.extra_columns == "reject":
        raise FileRejected("extra_columns", f"{f.name} has undeclared column(s) {', '.join(extra)} "
                           f"(contract {contract.path.name} says `reject`)")
    cols = ", ".join(f"{q(c.source)} AS {q(c.name)}" if c.source in names else f"CAST(NULL AS VARCHAR) AS {q(c.name)}"
                     for c in contract.columns)
    src_sql = (f"SELECT file_row_number + 1 AS _line, CAST(NULL AS VARCHAR) AS _malformed, "
               f"CAST(NULL AS VARCHAR) AS _detail, CAST(NULL AS VARCHAR) AS _text, {cols} "
               f"FROM read_parquet({lit(str(local))}, file_row_number = true)")
    compiled = compiled_for(src_sql)
    duck.sink = sink
    try:
        try:
            copied = duck.copy(_copy_sql(compiled, contract, ws.batch_id, ws.raw_dir, key))
        except duckdb.InvalidInputException as e:
            raise FileRejected("unreadable_file", f"{f.name} could not be read to the end ({e})") from None
        except duckdb.Error as e:
            raise InfraError(f"DuckDB failed on {f.source}: {e}") from e
    finally:
        duck.sink = None
        local.unlink(missing_ok=True)
    return Outcome(h.hexdigest(), rows, int(copied), extra, False)


# --- duplicates inside one file --------------------------------------------------------------

def _duplicates(con: duckdb.DuckDBPyConnection, contract: Contract, files: list[Path],
                rejected_lines: list[pa.Array]) -> pa.Table:
    """Lines repeating an earlier record of the same file: (`_line`, `first`, `what`), from the staged rows."""
    dup = contract.duplicates
    staged = f"read_parquet([{', '.join(lit(str(p)) for p in files)}])"
    if dup.key:
        keys = ", ".join(q(k) for k in dup.key)
        what = " || ', ' || ".join(f"{lit(k + '=')} || coalesce(CAST({q(k)} AS VARCHAR), '')" for k in dup.key)
        sql = f"""
        WITH k AS (SELECT _line, {keys} FROM {staged}),
        d AS (SELECT {keys} FROM k GROUP BY ALL HAVING count(*) > 1),
        r AS (SELECT k._line, min(k._line) OVER (PARTITION BY {", ".join("k." + q(x) for x in dup.key)}) AS first,
                     {what} AS what
              FROM k SEMI JOIN d USING ({keys}))
        SELECT _line, first, 'repeats line ' || first || ' (' || what || ')' AS what FROM r WHERE _line > first
        """
        return con.execute(sql).to_arrow_table()
    r = q(dup.receipt)
    lines = pa.concat_arrays(rejected_lines) if rejected_lines else pa.array([], pa.int64())
    con.register("rejected_lines", pa.table({"_line": lines}))
    sql = f"""
    WITH g AS (SELECT _line, {r} AS r FROM {staged}),
    multi AS (SELECT r FROM g GROUP BY r HAVING max(_line) - min(_line) + 1 > count(*)),
    l AS (SELECT r, _line, lag(_line) OVER (PARTITION BY r ORDER BY _line) AS prev FROM g SEMI JOIN multi USING (r)),
    breaks AS (SELECT r, min(_line) AS brk FROM l
               WHERE prev IS NOT NULL AND _line - prev - 1 >
                     (SELECT count(*) FROM rejected_lines x WHERE x._line > l.prev AND x._line < l._line)
               GROUP BY r),
    firsts AS (SELECT r, min(_line) AS first FROM g SEMI JOIN breaks USING (r) GROUP BY r)
    SELECT g._line, firsts.first,
           'repeats receipt ' || g.r || ' first seen on line ' || firsts.first || ' (a second run of its lines)' AS what
    FROM g JOIN breaks USING (r) JOIN firsts USING (r) WHERE g._line >= breaks.brk
    """
    try:
        return con.execute(sql).to_arrow_table()
    finally:
        con.unregister("rejected_lines")


PRECHECK_ROWS = 2_000_000  # up to this many staged rows, Arrow rules duplicates out without DuckDB


def _may_repeat(contract: Contract, files: list[Path], rejected_lines: list[pa.Array]) -> bool:
    """Cheap first look (Arrow, in memory, small files): can any record of the file repeat another?

    False proves there is none; True sends the file to the exact query (`_duplicates`)."""
    if sum(pq.ParquetFile(p).metadata.num_rows for p in files) > PRECHECK_ROWS:
        return True
    dup = contract.duplicates
    cols = [*dup.key] if dup.key else [dup.receipt]
    t = pa.concat_tables([pq.read_table(p, columns=["_line", *cols]) for p in files])
    if dup.key:
        counts = t.group_by(cols).aggregate([("_line", "count")])
        return bool(pc.any(pc.greater(counts.column("_line_count"), 1)).as_py())
    g = t.group_by(cols).aggregate([("_line", "min"), ("_line", "max"), ("_line", "count")])
    lo, hi, n = (g.column(c).to_numpy() for c in ("_line_min", "_line_max", "_line_count"))
    gap = hi - lo + 1 - n  # lines inside the receipt's span that are not its own
    if not gap.any():
        return False
    q = np.sort(pa.concat_arrays(rejected_lines).to_numpy()) if rejected_lines else np.zeros(0, np.int64)
    explained = np.searchsorted(q, hi) - np.searchsorted(q, lo, side="right")  # rejected lines in the span
    return bool((gap > explained).any())


def _staged(paths: list[Path]) -> str:
    """Staged raw files as written: no Hive columns from their folders (`date=...`), they are not raw columns."""
    return f"read_parquet([{', '.join(lit(str(p)) for p in paths)}], hive_partitioning = false)"


def _remove_duplicates(con: duckdb.DuckDBPyConnection, contract: Contract, parts: dict[str, Path],
                       dups: pa.Table, sink: QuarantineSink) -> None:
    """Move duplicate lines from the staged raw files to quarantine."""
    con.register("dups", dups)
    cols = [c.name for c in contract.columns]
    record = "concat_ws(',', " + ", ".join(f"coalesce(CAST({q(c)} AS VARCHAR), '')" for c in cols) + ")"
    for path in parts.values():
        found = con.execute(
            f"SELECT s._line, d.what, left({record}, 2000) AS record FROM {_staged([path])} s "
            f"JOIN dups d USING (_line)").to_arrow_table()
        if not found.num_rows:
            continue
        tmp = path.with_name(path.stem + ".dedup.parquet")
        con.execute(f"COPY (SELECT * FROM {_staged([path])} WHERE _line NOT IN (SELECT _line FROM dups)) "
                    f"TO {lit(str(tmp))} ({PARQUET_OPTIONS})")
        tmp.replace(path)
        n = found.num_rows
        sink.add(found.column("_line").combine_chunks(), pa.repeat(pa.scalar(DUPLICATE_REASON), n), "rejected",
                 found.column("what").combine_chunks(), found.column("record").combine_chunks())
    con.unregister("dups")


def _single_file_per_partition(con: duckdb.DuckDBPyConnection, files: dict[str, list[Path]]) -> dict[str, Path]:
    """One Parquet file per partition (DuckDB splits a partition when it had to close its writer)."""
    out = {}
    for value, paths in files.items():
        if len(paths) == 1:
            out[value] = paths[0]
            continue
        merged = paths[0].with_name("merged.parquet")
        con.execute(f"COPY (SELECT * FROM {_staged(paths)}) "
                    f"TO {lit(str(merged))} ({PARQUET_OPTIONS})")
        for p in paths:
            p.unlink()
        out[value] = merged
    return out


# --- one file ---------------------------------------------------------------------------------

class Ingestion:
    """One ingest run over a lake: the history, the contracts, and what each file became."""

    def __init__(self, lake: Lake, rules: SharingRules, contracts: list[Contract], history: manifests.History,
                 run_id: str, progress: Progress | None = None) -> None:
        self.lake, self.rules, self.contracts, self.history = lake, rules, contracts, history
        self.run_id, self.progress = run_id, progress
        self.lock: locks.StageLock | None = None
        self._duck: Duck | None = None
        # staged batches waiting for the landing -> raw gate: (the arguments of the `gates.StagedBatch` the gate
        # reads, publish, refuse). Kept as arguments so that Great Expectations is imported only by `release`, and
        # there only when the gate's proof falls short: imported before the files are read, its many objects make
        # every garbage collection of the run slow.
        self.held: list[tuple[tuple, Callable[[], manifests.ManifestRow],
                              Callable[[str], manifests.ManifestRow]]] = []
        self.pending: dict[tuple[str, str, str], str] = {}  # (company, feed, sha256) -> source, held this run

    @property
    def duck(self) -> Duck:
        if self._duck is None:
            self._duck = Duck()
        return self._duck

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()
            self._duck = None

    # -- deciding --------------------------------------------------------------------------------

    def hash_file(self, f: LandedFile) -> str:
        h = hashlib.sha256()
        with self.lake.open_input(layout.landing(f.company), f.rel) as src:
            while block := src.read(8 << 20):
                h.update(block)
        return h.hexdigest()

    def handle(self, f: LandedFile, summary: RunSummary) -> None:
        """Ingest, quarantine or skip one landing file."""
        problem = f.problem()
        contract = None if problem else find_contract(self.contracts, f.company, f.feed, f.name)
        feed = f.feed if not problem else (f.feed or "_root")
        earlier = self.history.for_source(f.company, feed, f.source)
        if problem or contract is None:
            readable = problem[2] if problem else True
            sha = self.hash_file(f) if readable else _name_sha(f)
            if any(b.sha256 == sha for b in earlier):
                self._skip(f, summary)
                return
            same = None if problem else self.history.live_with_sha(f.company, feed, sha)
            held = None if problem else self.pending.get((f.company, feed, sha))
            source = same.source if same is not None else held
            if source is not None:  # a resend under a name no contract knows (landed, or staged this run)
                summary.rows.append(self._reject(
                    f, feed, sha, len(earlier), "duplicate_file",
                    f"{f.name} has the same bytes as {source}, already landed; nothing new", status="duplicate"))
                return
            reason, detail = (problem[0], problem[1]) if problem else (
                "no_contract", f"no contract in ingestion/contracts matches {f.feed}/{f.name} for {f.company}; "
                "add one or fix the file name")
            summary.rows.append(self._reject(f, feed, sha, len(earlier), reason, detail, readable=readable))
            return
        live = self.history.live_for_source(f.company, feed, f.source)
        if earlier:
            sha = self.hash_file(f)
            if sha == earlier[-1].sha256 or (live is not None and sha == live.sha256):
                self._skip(f, summary)
                return
        row = self._land(f, contract, len(earlier), live)
        summary.rows.append(row)
        if row.replaces:
            summary.replaced.append((row.replaces, row.batch_id))

    def _skip(self, f: LandedFile, summary: RunSummary) -> None:
        summary.skipped += 1
        if self.progress:
            self.progress(f.source, f.size)

    def _row(self, f: LandedFile, feed: str, batch_id: str, sha: str) -> manifests.ManifestRow:
        return manifests.ManifestRow(batch_id=batch_id, company=f.company, feed=feed, source=f.source, sha256=sha,
                                     size=f.size, mtime=f.mtime, run_id=self.run_id)

    # -- rejecting a whole file -------------------------------------------------------------------

    def _reject(self, f: LandedFile, feed: str, sha: str, generation: int, reason: str, detail: str,
                status: str = "rejected", contract: Contract | None = None, readable: bool = True,
                started: dt.datetime | None = None) -> manifests.ManifestRow:
        batch_id = batch_id_for(f.company, feed, f.rel, generation)
        row = self._row(f, feed, batch_id, sha)
        if started:
            row.started_at = started
        row.status, row.reason, row.detail = status, reason, detail
        row.contract = contract.path.name if contract else None
        safe_feed = layout.safe_name(feed, 40) or "_"
        moves = []
        kept = None
        if readable:
            kept = layout.quarantine_file(f.company, safe_feed, batch_id, layout.safe_name(f.name))
            staged = layout.staging(batch_id, kept)
            with self.lake.open_input(layout.landing(f.company), f.rel) as src, \
                    self.lake.open_output(layout.QUARANTINE, staged) as out:
                shutil.copyfileobj(src, out, 8 << 20)
            moves.append((layout.QUARANTINE, staged, kept))
        record = pa.table({
            "batch_id": [batch_id], "company": [f.company], "feed": [feed], "source": [f.source],
            "line": pa.nulls(1, pa.int64()), "reason": [reason], "action": ["file_rejected"],
            "detail": [detail], "record": [f"{layout.QUARANTINE}/{kept}" if kept else None],
        }, schema=QUARANTINE_SCHEMA)
        rows_path = layout.quarantine_rows(f.company, safe_feed, batch_id)
        staged_rows = layout.staging(batch_id, rows_path)
        with self.lake.open_output(layout.QUARANTINE, staged_rows) as out:
            pq.write_table(record, out)
        moves.append((layout.QUARANTINE, staged_rows, rows_path))
        row.finished_at = dt.datetime.now(dt.UTC)
        _commit(self.lake, self.history, {"batch_id": batch_id, "moves": moves, "records": [row.record()]})
        return row

    # -- landing a file ---------------------------------------------------------------------------

    def _land(self, f: LandedFile, contract: Contract, generation: int,
              live: manifests.BatchState | None) -> manifests.ManifestRow:
        started = dt.datetime.now(dt.UTC)
        batch_id = batch_id_for(f.company, f.feed, f.rel, generation)
        ws = Workspace(self.lake, f.company, f.feed, batch_id)
        sink = QuarantineSink(ws.quarantine_path, batch_id, f.company, f.feed, f.source)
        key = "date" if contract.partition_by == "date" else "snapshot"
        limit, file_date = _future_limit(contract, f.name, started)

        def compiled_for(source_sql: str | None) -> CompiledContract:
            return compile_contract(contract, self.rules, batch_id=batch_id, future_limit=limit,
                                    partition_value=file_date, source_sql=source_sql)

        read = _read_parquet if contract.format == "parquet" else _read_stream
        try:
            try:
                out = read(self.lake, f, contract, compiled_for, ws, sink, key, self.progress, self.duck)
            except FileRejected as e:
                sink.abort()
                ws.discard()
                return self._reject(f, f.feed, self.hash_file(f), generation, e.reason, e.detail,
                                    contract=contract, started=started)
            return self._finish(f, contract, live, ws, sink, key, out, started)
        except BaseException:
            sink.abort()
            ws.discard()
            raise
        finally:
            ws.close()

    def _finish(self, f: LandedFile, contract: Contract, live: manifests.BatchState | None, ws: Workspace,
                sink: QuarantineSink, key: str, out: Outcome, started: dt.datetime) -> manifests.ManifestRow:
        batch_id = ws.batch_id
        same = self.history.live_with_sha(f.company, f.feed, out.sha)
        held = self.pending.get((f.company, f.feed, out.sha))
        if same is None and held is not None:  # the same bytes as a file staged earlier in this run
            same = manifests.BatchState(manifests.ManifestRow("", f.company, f.feed, held, out.sha), "live")
        if same is not None and same.source != f.source:  # the same bytes under another name
            sink.abort()
            ws.discard()
            generation = len(self.history.for_source(f.company, f.feed, f.source))
            return self._reject(f, f.feed, out.sha, generation, "duplicate_file",
                                f"{f.name} has the same bytes as {same.source}, already landed; nothing new",
                                status="duplicate", contract=contract, started=started)
        con = self.duck.con
        parts = _single_file_per_partition(con, ws.raw_files())
        if (parts and not out.ordered and (contract.duplicates.key or contract.duplicates.receipt)
                and _may_repeat(contract, list(parts.values()), sink.rejected_lines)):
            dups = _duplicates(con, contract, list(parts.values()), sink.rejected_lines)
            if dups.num_rows:
                _remove_duplicates(con, contract, parts, dups, sink)
        has_quarantine = sink.close()
        landed = sum(pq.ParquetFile(p).metadata.num_rows for p in parts.values())  # measured, not derived
        duplicates = sink.by_reason.get(DUPLICATE_REASON, 0)
        if landed + duplicates != out.landed_by_copy:
            raise AssertionError(f"{f.source}: DuckDB wrote {out.landed_by_copy} rows, the files hold {landed} "
                                 f"and {duplicates} left as duplicates")
        row = self._row(f, f.feed, batch_id, out.sha)
        row.started_at = started
        row.contract = contract.path.name
        row.partition_key = key
        row.partitions = sorted(parts)
        row.rows_read, row.rows_landed = out.rows_read, landed
        row.rows_quarantined, row.rows_redacted, row.rows_duplicate = sink.rejected, sink.redacted, duplicates
        row.detail = json.dumps(sink.by_reason, sort_keys=True) if sink.by_reason else None
        row.drift = out.drift
        row.replaces = live.batch_id if live else None
        if not row.reconciles():  # a bug, never a data problem: refuse to commit it
            raise AssertionError(f"manifest for {f.source} does not reconcile: {row}")
        moves = ws.stage(key, parts, has_quarantine)
        generation = len(self.history.for_source(f.company, f.feed, f.source))

        def publish() -> manifests.ManifestRow:
            row.finished_at = dt.datetime.now(dt.UTC)
            records = [row.record()]
            deletes = []
            if live is not None:
                records.append({"event": "replaced", "event_id": f"replaced:{live.batch_id}",
                                "batch_id": live.batch_id, "company": live.company, "feed": live.feed,
                                "source": live.source, "replaced_by": batch_id, "rows_removed": live.rows_landed,
                                "partitions": live.partitions, "at": row.finished_at.isoformat(), "by": who(),
                                "why": f"re-delivered under the same name with new bytes (sha256 {out.sha[:12]}...)"})
                deletes = [(layout.raw(live.company), p) for p in live.raw_files()]
            if out.drift:
                records.append({"event": "drift", "event_id": f"drift:{batch_id}", "batch_id": batch_id,
                                "company": f.company, "feed": f.feed, "source": f.source, "columns": out.drift,
                                "policy": contract.extra_columns, "at": row.finished_at.isoformat()})
            if self.lock is not None:
                self.lock.check()
            _commit(self.lake, self.history, {"batch_id": batch_id, "moves": moves, "records": records,
                                              "deletes": deletes})
            return row

        def refuse(why: str) -> manifests.ManifestRow:
            """The gate refused the staged rows: none is published, the file is quarantined whole."""
            for zone, staged, _ in moves:
                self.lake.delete(zone, staged)
            return self._reject(f, f.feed, out.sha, generation, "gate_failed", why, contract=contract,
                                started=started)

        # the landing -> raw quality gate reads the staged rows of the whole run before any is published
        day = _future_limit(contract, f.name, started)[1]
        staged_raw = [src for zone, src, _ in moves if zone == ws.raw_zone]
        self.held.append(((f.company, f.feed, batch_id, contract, staged_raw, row.rows_read, day), publish, refuse))
        self.pending[(f.company, f.feed, out.sha)] = f.source
        return row

    def release(self, summary: RunSummary) -> None:
        """The landing -> raw gate on every batch this run staged; then each is published, or rejected whole
        (`gate_failed`, the file kept in quarantine) when the gate names it."""
        if not self.held:
            return
        # Great Expectations costs seconds to import: `check_landing` imports it only when its proof from the
        # staged files' footers and distinct gids cannot show every expectation met.
        from expectations import gates

        staged = [gates.StagedBatch(*args) for args, _, _ in self.held]
        report = gates.check_landing(self.lake, staged)
        gates.record(self.lake, report)
        for batch, (_, publish, refuse) in zip(staged, self.held, strict=True):
            if batch.batch_id not in report.blocked:
                publish()
                continue
            refused = refuse(report.message())
            summary.rows = [refused if r.batch_id == batch.batch_id else r for r in summary.rows]
            summary.replaced = [p for p in summary.replaced if p[1] != batch.batch_id]
        self.held.clear()
        self.pending.clear()


def _name_sha(f: LandedFile) -> str:
    """Stands for the hash of a file that is not read (hostile name): its name, size and time."""
    return "name:" + hashlib.sha256(f"{f.rel}\0{f.size}\0{f.mtime}".encode("utf-8", "surrogateescape")).hexdigest()


# --- the run -----------------------------------------------------------------------------------

def ingest(
    lake: Lake,
    companies: list[str] | None = None,
    *,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
    contracts: list[Contract] | None = None,
    wait: float = 0.0,
) -> RunSummary:
    """Ingest every new file in the landing zones of `companies` (default: all in the sharing rules).

    Holds the lake's ingest lock; records the run in the ops zone (`lake.runlog`).
    """
    rules = load_rules()
    contracts = load_contracts() if contracts is None else contracts
    every = list(rules.companies)
    companies = companies or every
    summary = RunSummary()
    with locks.stage_lock(lake, "ingest", wait=wait) as held, \
            runlog.recorded(lake, "ingest", company=companies[0] if len(companies) == 1 else None) as run:
        summary.run_id = run.run_id
        lake.ensure_zones(layout.all_zones(every))
        history = manifests.History(lake)
        summary.recovered = recover(lake, history, every)
        files = landed_files(lake, companies)
        if on_start:
            on_start(len(files), sum(f.size for f in files))
        work = Ingestion(lake, rules, contracts, history, run.run_id, progress)
        work.lock = held
        try:
            _each_file(work, files, summary, history)
            work.release(summary)
        finally:
            work.close()
        manifests.write_table(lake, history)  # the batch states as Parquet, for the dashboards' SQL
        rows = summary.rows
        run.files = len(rows)
        run.rows_in = sum(r.rows_read for r in rows)
        run.rows_out = sum(r.rows_landed for r in rows)
        run.rows_rejected = sum(r.rows_quarantined for r in rows)
        if summary.rejected:
            run.status = "rejected"
        if summary.failed:
            run.status = "failed"
            run.message = f"{len(summary.failed)} file(s) failed: {summary.failed[0][0]}: {summary.failed[0][1]}"[:500]
        run.detail = {
            "skipped": summary.skipped, "recovered": summary.recovered, "rejected_files": len(summary.rejected),
            "duplicate_files": sum(r.status == "duplicate" for r in rows), "replaced": len(summary.replaced),
            "failed_files": len(summary.failed), "ledger_head": history.ledger.head().seq,
            "reasons": _reasons(rows),
        }
    return summary


def _each_file(work: Ingestion, files: list[LandedFile], summary: RunSummary, history: manifests.History) -> None:
    """One file's failure never stops the others: storage trouble is retried next run (nothing recorded),
    anything else about a file's bytes quarantines that file as `unreadable_file`."""
    for f in files:
        try:
            work.handle(f, summary)
        except (OSError, InfraError, duckdb.IOException) as e:  # storage trouble: nothing recorded, retry
            summary.failed.append((f.source, f"{type(e).__name__}: {e}"))
        except (LakeError, AssertionError):  # the lock was lost, or a bug: stop before publishing more
            raise
        except Exception as e:  # anything about this file's bytes that no rule foresaw
            feed = f.feed or "_root"
            try:
                summary.rows.append(work._reject(
                    f, feed, work.hash_file(f), len(history.for_source(f.company, feed, f.source)),
                    "unreadable_file", f"{f.name} could not be read ({type(e).__name__}: {str(e)[:300]})"))
            except OSError as e2:
                summary.failed.append((f.source, f"{type(e2).__name__}: {e2}"))


def _reasons(rows: list[manifests.ManifestRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        if r.status != "landed":
            out[f"file:{r.reason}"] = out.get(f"file:{r.reason}", 0) + 1
        elif r.detail:
            for k, v in json.loads(r.detail).items():
                out[k] = out.get(k, 0) + v
    return out


# --- retraction --------------------------------------------------------------------------------

def find_batch(history: manifests.History, target: str) -> manifests.BatchState:
    """The batch named by its id, its landing path (`landing-cvs/pos/x.csv`, `cvs/pos/x.csv`) or file name."""
    if target in history.batches:
        return history.batches[target]
    t = target.strip("/")
    cands = [b for b in history.batches.values()
             if t in (b.source, b.source.split("/", 1)[1], b.source.removeprefix("landing-"),
                      b.source.rsplit("/", 1)[-1])]
    live = [b for b in cands if b.live]
    if len(live) == 1:
        return live[0]
    if len(live) > 1:
        raise LakeError(f"{target!r} names {len(live)} live batches: "
                        + ", ".join(f"{b.batch_id} ({b.source})" for b in live),
                        "give the batch id or the full landing path")
    if cands:
        last = cands[-1]
        raise LakeError(f"{target!r} has no live batch: its last batch {last.batch_id} is {last.state}",
                        "`lake status` lists the live batches")
    raise LakeError(f"no batch or landed file matches {target!r}",
                    "give a batch id or a landing path from `lake status`")


def retract(lake: Lake, target: str, reason: str, by: str | None = None, wait: float = 0.0) -> manifests.BatchState:
    """Remove a live batch from the raw zone on purpose, recorded in the history (who, when, why)."""
    if not reason or not reason.strip():
        raise LakeError("a retraction needs a reason", "pass --reason '...': it is kept in the history")
    with locks.stage_lock(lake, "ingest", wait=wait), runlog.recorded(lake, "retract") as run:
        history = manifests.History(lake)
        recover(lake, history, list(load_rules().companies))
        batch = find_batch(history, target)
        run.company, run.feed = batch.company, batch.feed
        now = dt.datetime.now(dt.UTC).isoformat()
        record = {"event": "retracted", "event_id": f"retracted:{batch.batch_id}", "batch_id": batch.batch_id,
                  "company": batch.company, "feed": batch.feed, "source": batch.source,
                  "rows_removed": batch.rows_landed, "partitions": batch.partitions, "at": now, "by": by or who(),
                  "why": reason.strip()}
        _commit(lake, history, {"batch_id": batch.batch_id, "moves": [], "records": [record],
                                "deletes": [(layout.raw(batch.company), p) for p in batch.raw_files()]})
        manifests.write_table(lake, history)
        run.files, run.rows_out = 1, batch.rows_landed
        run.detail = {"batch_id": batch.batch_id, "why": reason.strip(), "ledger_head": history.ledger.head().seq}
        return history.batches[batch.batch_id]


