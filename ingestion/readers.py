"""Readers: turn one landed file into Arrow batches of raw text fields with exact line numbers.

Each batch has `_line`, `_malformed` (a reason, or null), `_text` (the raw record when it could not
be split) and the data: one string column per contract column (CSV, Parquet) or `_json` (JSON
Lines). Files that cannot be read at all raise `FileRejected`, and the file is quarantined whole.

Speed matters here (10M-row files): CSV is parsed by Arrow's multi-threaded streaming reader, which
numbers records by position; when a file turns out to have a malformed row or a quoted line break
(`NeedExactLines`), the engine reads it again with Python's csv module, which knows every line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import threading
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion.contracts import Contract

CHUNK_BYTES = 32 << 20


class FileRejected(Exception):
    """The file cannot be read under its contract; it is quarantined whole."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def _python_codec(encoding: str) -> str:
    return {"utf-8-sig": "utf-8", "cp932": "cp932", "utf-8": "utf-8"}[encoding]


def decode_column(arr: pa.Array, encoding: str) -> tuple[pa.Array, np.ndarray | None]:
    """Binary -> string in the contract's encoding; returns the strings and a mask of undecodable rows.

    Fast path: valid ASCII/UTF-8 converts in C. Otherwise the distinct values are decoded in
    Python (they are few: payment methods, categories), so cp932 costs almost nothing.
    """
    codec = _python_codec(encoding)
    try:
        s = arr.cast(pa.string())
        if codec == "utf-8" or pc.all(pc.string_is_ascii(s)).as_py() in (True, None):
            return s, None
    except pa.ArrowInvalid:
        pass
    enc = pc.dictionary_encode(arr)
    values = []
    bad = []
    for i, b in enumerate(enc.dictionary.to_pylist()):
        try:
            values.append(b.decode(codec))
        except UnicodeDecodeError:
            values.append(None)
            bad.append(i)
    dictionary = pa.array(values, pa.string())
    out = pa.DictionaryArray.from_arrays(enc.indices, dictionary).cast(pa.string())
    mask = np.isin(enc.indices.to_numpy(zero_copy_only=False), bad) if bad else None
    return out, mask


def _chunks(stream: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Chunks that end on a line break; yields (chunk, is_last)."""
    rest = b""
    while True:
        block = stream.read(CHUNK_BYTES)
        if not block:
            if rest:
                yield rest, True
            return
        buf = rest + block
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            rest = buf
            continue
        yield buf[:cut], False
        rest = buf[cut:]


# --- CSV ------------------------------------------------------------------------------------

def _read_header(stream: BinaryIO, contract: Contract, filename: str) -> tuple[list[str], int]:
    """Decode and check the header line; returns the header names and the byte offset of the data."""
    head = stream.read(1 << 16)
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    offset = len(line) + (1 if end >= 0 else 0)
    line = line.rstrip(b"\r")
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    expected = {c.source for c in contract.columns}
    codec = _python_codec(contract.encoding)
    names: list[str] | None = None
    try:
        names = next(csv.reader([line.decode(codec)]))
    except UnicodeDecodeError:
        pass
    except StopIteration:
        raise FileRejected("truncated_file", f"{filename} is empty") from None
    if names is None or not expected & set(names):
        for other in ("utf-8", "cp932"):
            if other == codec:
                continue
            try:
                alt = next(csv.reader([line.decode(other)]))
            except (UnicodeDecodeError, StopIteration):
                continue
            if expected <= set(alt) or len(expected & set(alt)) > len(expected) // 2:
                raise FileRejected(
                    "wrong_encoding",
                    f"{filename} is {other}, the contract {contract.path.name} says {contract.encoding}; "
                    f"ask {contract.company} to resend it in {contract.encoding}",
                )
        if names is None:
            raise FileRejected("wrong_encoding", f"{filename}: header is not {contract.encoding}")
    missing = [c.source for c in contract.columns if c.required and c.source not in names]
    if missing:
        raise FileRejected(
            "missing_columns",
            f"{filename} lacks required column(s) {', '.join(missing)} of contract {contract.path.name}",
        )
    extra = [n for n in names if n not in expected]
    if extra:
        raise FileRejected(
            "extra_columns",
            f"{filename} has column(s) {', '.join(extra)} that contract {contract.path.name} does not "
            "declare; add them to the contract or ask the sender to drop them",
        )
    return names, offset


class NeedExactLines(Exception):
    """The fast CSV path met a row it could not number exactly; the engine re-reads the file exactly."""


class _Throttled(io.RawIOBase):
    """A file Arrow's streaming CSV reader may only read `ahead` blocks past what was consumed.

    Arrow reads the whole input ahead of its consumer (its I/O thread does not wait), so a 10 GB file
    would sit in memory; blocking its reads here keeps memory flat whatever the file size.
    """

    def __init__(self, raw: BinaryIO, block: int, ahead: int = 3) -> None:
        self.raw, self.block, self.ahead = raw, block, ahead
        self.bytes_read = 0
        self.consumed_blocks = 0
        self.done = False
        self.cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def consumed(self) -> None:
        with self.cond:
            self.consumed_blocks += 1
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def read(self, n: int = -1) -> bytes:
        with self.cond:
            while not self.done and self.bytes_read >= (self.consumed_blocks + self.ahead) * self.block:
                self.cond.wait(timeout=1.0)
        data = self.raw.read(n)
        self.bytes_read += len(data)
        return data

    def readinto(self, buf) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def read_csv(
    stream: BinaryIO, contract: Contract, filename: str, exact: bool = False, lines_in_file: int | None = None
) -> Iterator[pa.Table]:
    """CSV batches. Fast path: Arrow's parser, one record per line (checked against `lines_in_file`);
    `exact`: Python's csv module, for files with malformed rows or quoted line breaks."""
    header, offset = _read_header(stream, contract, filename)
    stream.seek(offset)
    if exact:
        yield from _read_csv_exact(stream, contract, filename, header)
        return
    width = len(header)
    positional = [f"f{i}" for i in range(width)]
    bad_rows: list[object] = []

    def on_invalid(row: object) -> str:
        bad_rows.append(row)
        return "skip"

    block = 8 << 20
    source = _Throttled(stream, block)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=positional, block_size=block),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(positional, pa.binary()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as e:
        source.finish()
        if "Empty CSV file" in str(e):
            return  # a header and nothing else: zero records
        raise NeedExactLines(f"{filename}: {e}") from None
    line = 2  # the header is line 1
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as e:  # e.g. an unterminated quote: let the exact reader say where
                raise NeedExactLines(f"{filename}: {e}") from None
            source.consumed()
            if bad_rows:
                raise NeedExactLines(f"{filename}: a row does not split into {width} fields")
            n = batch.num_rows
            columns = {name: batch.column(i) for i, name in enumerate(positional)}
            lines = np.arange(line, line + n, dtype=np.int64)
            line += n
            yield _assemble(columns, header, contract, lines, pa.nulls(n, pa.string()), pa.nulls(n, pa.string()))
    finally:
        source.finish()
    if bad_rows:
        raise NeedExactLines(f"{filename}: a row does not split into {width} fields")
    if lines_in_file is not None and lines_in_file != line - 1:
        raise NeedExactLines(f"{filename}: {line - 2} records on {lines_in_file - 1} lines (quoted line breaks)")


def _read_csv_exact(stream: BinaryIO, contract: Contract, filename: str, header: list[str]) -> Iterator[pa.Table]:
    """Exact line numbers for files with malformed rows or quoted line breaks (Python csv, slower)."""
    width = len(header)
    positional = [f"f{i}" for i in range(width)]
    # latin-1 maps every byte to one character and back, so the bytes survive untouched.
    text = io.TextIOWrapper(stream, encoding="latin-1", newline="")
    reader = csv.reader(text)
    prev = 0  # physical data lines consumed so far; data starts on line 2
    last_malformed = False
    while True:
        cols: list[list[bytes | None]] = [[] for _ in range(width)]
        lines: list[int] = []
        malformed: list[str | None] = []
        raw_text: list[str | None] = []
        for fields in reader:
            lines.append(prev + 2)
            prev = reader.line_num
            if len(fields) == width:
                for i, f in enumerate(fields):
                    cols[i].append(f.encode("latin-1"))
                malformed.append(None)
                raw_text.append(None)
            else:
                for i in range(width):
                    cols[i].append(None)
                malformed.append("malformed_row")
                raw_text.append(",".join(fields).encode("latin-1").decode("utf-8", errors="replace")[:2000])
            if len(lines) >= 200_000:
                break
        if not lines:
            break
        last_malformed, last_line = malformed[-1] is not None, lines[-1]
        columns = {name: pa.array(cols[i], pa.binary()) for i, name in enumerate(positional)}
        yield _assemble(columns, header, contract, np.array(lines, dtype=np.int64),
                        pa.array(malformed, pa.string()), pa.array(raw_text, pa.string()))
    # A last line cut short (no final line break, wrong number of fields) means the file was truncated.
    stream.seek(-1, io.SEEK_END)
    if stream.read(1) != b"\n" and last_malformed:
        raise FileRejected(
            "truncated_file",
            f"{filename} ends in the middle of line {last_line}; ask {contract.company} to resend it",
        )


def _assemble(columns, header: list[str], contract: Contract, lines, malformed, text) -> pa.Table:
    """Decode, trim and name the fields of a batch; flag rows whose bytes are not in the contract's encoding."""
    by_source = {c.source: c.name for c in contract.columns}
    n = len(lines)
    bad_encoding = np.zeros(n, dtype=bool)
    out: dict[str, pa.Array] = {}
    for pos, source in enumerate(header):
        decoded, bad = decode_column(columns[f"f{pos}"], contract.encoding)
        if bad is not None:
            bad_encoding |= bad
        trimmed = pc.utf8_trim_whitespace(decoded)
        empty = pc.equal(trimmed, "")
        if pc.any(empty).as_py():
            trimmed = pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)
        out[by_source[source]] = trimmed
    for col in contract.columns:
        out.setdefault(col.name, pa.nulls(n, pa.string()))
    if bad_encoding.any():
        malformed = pc.if_else(pa.array(bad_encoding) & pc.is_null(malformed), "bad_encoding", malformed)
    return pa.table({"_line": pa.array(lines), "_malformed": malformed, "_text": text,
                     **{c.name: out[c.name] for c in contract.columns}})


# --- JSON Lines -----------------------------------------------------------------------------

def read_jsonl(stream: BinaryIO, contract: Contract, filename: str) -> Iterator[pa.Table]:
    source: BinaryIO = gzip.GzipFile(fileobj=stream) if contract.compression == "gzip" else stream  # type: ignore[assignment]
    line = 1
    try:
        for chunk, is_last in _chunks(source):
            raw = chunk.split(b"\n")
            if raw and raw[-1] == b"":
                raw.pop()
            numbers = np.arange(line, line + len(raw), dtype=np.int64)
            line += len(raw)
            keep = np.array([bool(r.strip()) for r in raw], dtype=bool)  # blank lines carry nothing
            if is_last and not chunk.endswith(b"\n") and raw:
                tail = raw[-1]
                try:
                    json.loads(tail)
                except ValueError:
                    raise FileRejected(
                        "truncated_file",
                        f"{filename} ends in the middle of line {int(numbers[-1])}; "
                        f"ask {contract.company} to resend it",
                    ) from None
            arr = pa.array(raw, pa.binary()).filter(pa.array(keep))
            numbers = numbers[keep]
            decoded, bad = decode_column(arr, contract.encoding)
            malformed = pa.nulls(len(arr), pa.string())
            if bad is not None:
                malformed = pc.if_else(pa.array(bad), "bad_encoding", malformed)
            yield pa.table({"_line": pa.array(numbers), "_malformed": malformed,
                            "_text": pa.nulls(len(arr), pa.string()), "_json": decoded})
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise FileRejected(
            "truncated_file",
            f"{filename} is not a complete gzip stream ({e}); ask {contract.company} to resend it",
        ) from None


# --- Parquet --------------------------------------------------------------------------------

def read_parquet(stream: BinaryIO, contract: Contract, filename: str) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(stream)
    except (pa.ArrowInvalid, OSError) as e:
        raise FileRejected("unreadable_file", f"{filename} is not a readable Parquet file ({e})") from None
    names = pf.schema_arrow.names
    missing = [c.source for c in contract.columns if c.required and c.source not in names]
    if missing:
        raise FileRejected("missing_columns", f"{filename} lacks required column(s) {', '.join(missing)}")
    extra = [n for n in names if n not in {c.source for c in contract.columns}]
    if extra:
        raise FileRejected("extra_columns", f"{filename} has undeclared column(s) {', '.join(extra)}")
    record = 1
    try:
        for batch in pf.iter_batches(batch_size=1 << 20):
            n = batch.num_rows
            cols = {}
            for c in contract.columns:
                cols[c.name] = batch.column(c.source) if c.source in names else pa.nulls(n, pa.string())
            yield pa.table({"_line": pa.array(np.arange(record, record + n, dtype=np.int64)),
                            "_malformed": pa.nulls(n, pa.string()), "_text": pa.nulls(n, pa.string()), **cols})
            record += n
    except (pa.ArrowInvalid, OSError) as e:
        raise FileRejected("unreadable_file", f"{filename} could not be read to the end ({e})") from None


READERS = {"jsonl": read_jsonl, "parquet": read_parquet}


def read_file(
    stream: BinaryIO, contract: Contract, filename: str, exact: bool = False, lines_in_file: int | None = None
) -> Iterator[pa.Table]:
    """Batches of one file under its contract (see the module docstring)."""
    if contract.format == "csv":
        return read_csv(stream, contract, filename, exact, lines_in_file)
    return READERS[contract.format](stream, contract, filename)
