"""Readers: one landed file -> Arrow batches of raw text fields with exact line numbers, in one pass.

`ByteReader` reads the stored bytes exactly once: it hashes them (sha256), gunzips within the
contract's limits (`too_large`, including decompression bombs), and cuts the text into blocks of
whole lines, setting aside lines longer than the limit (`line_too_long`) without holding them. The
parsers turn blocks into batches of these columns:
  `_line`       physical line of the record (first line of a record with quoted line breaks)
  `_malformed`  a reason the reader found (`malformed_row`, `bad_encoding`, `line_too_long`), or null
  `_detail`     what exactly (the undecodable bytes in hex, the length of the line), or null
  `_text`       the raw record when it could not be split or decoded, or null
and the data: one string column per contract column (CSV, trimmed, empty as null) or `_json`.
A file that cannot be read at all raises `FileRejected`, and the file is quarantined whole.

Speed matters (10M-row files): CSV blocks are parsed by Arrow's multi-threaded parser, which numbers
records by position; line numbers are exact whenever a block's records and non-blank lines agree,
and a block that has a malformed row or a quoted line break is re-read exactly with Python's csv
module (that block only). Decoding works on whole columns: ASCII is a zero-copy view, cp932
decodes only a column's distinct values. Python never loops over the rows of a clean block.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.contracts import Contract, Limits

STORED_CHUNK = 8 << 20  # bytes read from storage at a time
BLOCK_BYTES = 8 << 20  # text handed to a parser at a time (whole lines)
BOMB_CHECK_AFTER = 16 << 20  # the gzip ratio is judged once this much was expanded
MAX_RECORD_BYTES = 64 << 20  # a quoted record may span lines, up to this
TEXT_KEEP = 2000  # characters of a bad record kept in quarantine
csv.field_size_limit(MAX_RECORD_BYTES)

# Characters that are never data: C0 controls but tab and line breaks, DEL, C1 controls, zero-width and
# bidirectional format characters, the BOM inside text, the replacement character, private use (where
# stray cp932 bytes such as 0xA0 and 0xFD land). One definition, used on decoded text.
INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufffd\ue000-\uf8ff]"
)
_INVISIBLE_UTF8 = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa4]"
    rb"|\xef\xbb\xbf|\xef\xbf\xbd|\xee[\x80-\xbf][\x80-\xbf]|\xef[\x80-\xa3][\x80-\xbf]"
)
_NON_ASCII_SUSPECTS = np.array([0xC2, 0xE2, 0xEE, 0xEF], dtype=np.uint8)  # lead bytes of the above


class FileRejected(Exception):
    """The file cannot be read under its contract; it is quarantined whole."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def python_codec(encoding: str) -> str:
    return {"utf-8-sig": "utf-8", "cp932": "cp932", "utf-8": "utf-8"}[encoding]


def hex_bytes(data: bytes, limit: int = 16) -> str:
    return data[:limit].hex(" ") + (" ..." if len(data) > limit else "")


def describe_invisible(text: str) -> str | None:
    """`U+00A0 (bytes c2 a0)` for the first never-data character of `text`, or None."""
    m = INVISIBLE.search(text)
    if not m:
        return None
    ch = m.group()
    return f"invisible character U+{ord(ch):04X} (bytes {ch.encode('utf-8', 'surrogatepass').hex(' ')})"


# --- bytes: hash, gunzip, limits, whole lines ------------------------------------------------

@dataclass
class Block:
    """Whole lines of text: `first_line` is the number of the first one, `lines` how many."""

    first_line: int
    data: bytes
    lines: int


@dataclass
class LongLine:
    """A line longer than the limit, skipped without being held in memory."""

    line: int
    length: int
    head: bytes


class ByteReader:
    """The one pass over a stored file: sha256 while reading, gunzip, limits, blocks of whole lines."""

    def __init__(self, stream: BinaryIO, name: str, limits: Limits, gzip: bool = False, csv_quotes: bool = False):
        self.stream, self.name, self.limits, self.gzip = stream, name, limits, gzip
        self.csv_quotes = csv_quotes  # cut blocks only where quotes are balanced (CSV)
        self._sha = hashlib.sha256()
        self.stored = 0  # bytes read from storage
        self.expanded = 0  # bytes after gunzip
        self.ends_with_newline = True
        self.finished = False

    @property
    def sha256(self) -> str:
        if not self.finished:
            raise RuntimeError("sha256 is known once the file was read to the end")
        return self._sha.hexdigest()

    def drain(self) -> None:
        """Read the rest of the stored bytes (for the hash) without looking at them."""
        while chunk := self.stream.read(STORED_CHUNK):
            self._sha.update(chunk)
            self.stored += len(chunk)
        self.finished = True

    def _stored_chunks(self) -> Iterator[bytes]:
        while chunk := self.stream.read(STORED_CHUNK):
            self._sha.update(chunk)  # hashlib releases the GIL on big chunks
            self.stored += len(chunk)
            yield chunk
        self.finished = True

    def _text_chunks(self) -> Iterator[bytes]:
        """The file's text: gunzipped in bounded pieces, checked against the size and ratio limits."""
        source = self._stored_chunks()
        if not self.gzip:
            for chunk in source:
                self._count(len(chunk))
                yield chunk
            return
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        started = in_member = False
        for chunk in source:
            data = chunk
            while data:
                in_member = True
                try:
                    out = d.decompress(data, STORED_CHUNK)
                except zlib.error as e:
                    if not started:
                        raise FileRejected("unreadable_file", f"{self.name} is not a gzip file ({e})") from None
                    raise FileRejected("truncated_file", f"{self.name} is not a complete gzip stream ({e}); "
                                       "ask the sender to resend it") from None
                started = True
                if out:
                    self._count(len(out))
                    self._check_ratio()
                    yield out
                if d.eof:  # a gzip file may hold several members one after another
                    data, in_member = d.unused_data, False
                    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                else:
                    data = d.unconsumed_tail
        if in_member:
            raise FileRejected("truncated_file", f"{self.name} is not a complete gzip stream (it ends early); "
                               "ask the sender to resend it")

    def _check_ratio(self) -> None:
        ratio = self.limits.max_gzip_ratio
        if self.expanded > BOMB_CHECK_AFTER and self.expanded > ratio * max(self.stored, 1):
            raise FileRejected("too_large", f"{self.name} expands more than {ratio:g} times ({self.stored:,} "
                               f"bytes gave {self.expanded:,} so far): a decompression bomb; not read on")

    def _count(self, n: int) -> None:
        self.expanded += n
        if self.expanded > self.limits.max_file_bytes:
            raise FileRejected("too_large", f"{self.name} is larger than {self.limits.max_file_bytes:,} bytes "
                               "(limits.max_file_bytes of its contract); not read on")

    def items(self) -> Iterator[Block | LongLine]:
        """Blocks of whole lines, in file order, with the lines too long to read in between."""
        max_line = self.limits.max_line_bytes
        buf = b""
        line = 1  # number of the first line in buf
        skipping: LongLine | None = None
        parity = 0  # quotes seen before buf, mod 2 (CSV)
        for chunk in self._text_chunks():
            if skipping is not None:  # inside a line too long to keep: look for its end only
                nl = chunk.find(b"\n")
                if nl < 0:
                    skipping.length += len(chunk)
                    continue
                skipping.length += nl
                yield skipping
                skipping, line, chunk = None, line + 1, chunk[nl + 1 :]
            buf += chunk
            if len(buf) < BLOCK_BYTES:
                continue
            cut = buf.rfind(b"\n") + 1
            if cut == 0 or len(buf) - cut > max_line:  # the last line is already too long
                start = cut
                if cut:
                    blocks, line, parity = self._emit(buf[:cut], line, parity, force=True)
                    yield from blocks
                skipping = LongLine(line, len(buf) - start, buf[start : start + TEXT_KEEP])
                buf = b""
                continue
            blocks, line, parity, rest = self._emit_balanced(buf, cut, line, parity)
            yield from blocks
            buf = rest
        if skipping is not None:
            self.ends_with_newline = False
            yield skipping
            return
        if buf:
            self.ends_with_newline = buf.endswith(b"\n")
            blocks, line, parity = self._emit(buf, line, parity, force=True)
            yield from blocks

    def _emit_balanced(self, buf: bytes, cut: int, line: int, parity: int):
        """Emit buf[:cut] when quotes are balanced there (CSV), else an earlier cut; returns the rest."""
        if self.csv_quotes and buf.find(b'"', 0, cut) >= 0:
            p = (parity + buf.count(b'"', 0, cut)) % 2
            while p and cut:
                prev = buf.rfind(b"\n", 0, cut - 1) + 1
                if buf.count(b'"', prev, cut) % 2:
                    p ^= 1
                cut = prev
            if cut == 0:  # no balanced place yet: keep reading, up to a bound
                if len(buf) < MAX_RECORD_BYTES:
                    return [], line, parity, buf
                cut = buf.rfind(b"\n") + 1
        blocks, line, parity = self._emit(buf[:cut], line, parity, force=False)
        return blocks, line, parity, buf[cut:]

    def _emit(self, text: bytes, line: int, parity: int, force: bool):
        """Split `text` (whole lines, the last maybe unterminated) into blocks around lines too long."""
        max_line = self.limits.max_line_bytes
        out: list[Block | LongLine] = []
        if self.csv_quotes and b'"' in text:
            parity = (parity + text.count(b'"')) % 2
        if not _has_long_line(text, max_line):
            n = _count_newlines(text) + (0 if text.endswith(b"\n") else 1)
            out.append(Block(line, text, n))
            return out, line + n, parity
        ends = np.flatnonzero(np.frombuffer(text, np.uint8) == 10)
        starts = np.concatenate([[0], ends + 1])
        stops = np.concatenate([ends, [len(text)]]) if len(text) > (ends[-1] + 1 if len(ends) else 0) else ends
        starts = starts[: len(stops)]
        lengths = stops - starts
        pos, first = 0, line
        for i in np.flatnonzero(lengths > max_line):
            s, e = int(starts[i]), int(stops[i])
            if s > pos:
                n = int(i) - (first - line)
                out.append(Block(first, text[pos:s], n))
            out.append(LongLine(line + int(i), e - s, text[s : s + TEXT_KEEP]))
            pos, first = e + 1, line + int(i) + 1
        if pos < len(text):
            out.append(Block(first, text[pos:], len(stops) - (first - line)))
        return out, line + len(stops), parity


def _count_newlines(text: bytes) -> int:
    return int(np.count_nonzero(np.frombuffer(text, np.uint8) == 10))


def _has_long_line(text: bytes, max_line: int) -> bool:
    """Cheap check: every window of half the limit holds a line break, so no line can exceed it."""
    if len(text) <= max_line:
        return False
    step = max(max_line // 2, 1)
    return any(text.find(b"\n", i, i + step) < 0 for i in range(0, len(text) - step, step))


# --- column decoding -------------------------------------------------------------------------

@dataclass
class Flags:
    """Rows of a batch the reader already rejects: row index -> (reason, detail, text)."""

    rows: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)

    def add(self, i: int, reason: str, detail: str | None, text: str | None = None) -> None:
        self.rows.setdefault(int(i), (reason, detail, text))


def _values(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data bytes) of a binary/string array without copying."""
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def decode_column(arr: pa.Array, encoding: str, name: str, flags: Flags) -> tuple[pa.Array, bool]:
    """Binary -> string in the contract's encoding; undecodable values flag their row `bad_encoding`.

    ASCII is a zero-copy view; UTF-8 is validated in C; cp932 decodes the column's distinct values.
    Never-data characters (`INVISIBLE`) flag their row too, with the character and its bytes.
    Also says whether no value can need trimming (no whitespace at all, or trimmed while decoding).
    """
    offsets, data = _values(arr)
    body = data[offsets[0] : offsets[-1]]
    if body.size == 0:
        return arr.view(pa.string()), True
    high, low = int(body.max()), int(body.min())
    if high < 0x80:  # ASCII: the bytes are already the string
        out = arr.view(pa.string())
        if high == 0x7F or low < 0x20:  # DEL or a control character (or a tab): look closer
            _flag_invisible(out, name, flags)
        return out, low > 0x20
    codec = python_codec(encoding)
    if codec == "utf-8":
        try:
            out = arr.cast(pa.string())
        except pa.ArrowInvalid:
            return _decode_distinct(arr, codec, name, flags), True
        if _any_control(body) or bool(np.isin(body, _NON_ASCII_SUSPECTS).any()):
            _flag_invisible(out, name, flags)
        return out, False
    return _decode_distinct(arr, codec, name, flags), True


def _any_control(body: np.ndarray) -> bool:
    low = body < 0x20
    return bool((low & (body != 9) & (body != 10) & (body != 13)).any() or (body == 0x7F).any())


def _flag_invisible(out: pa.Array, name: str, flags: Flags) -> None:
    offsets, data = _values(out)
    raw = data[offsets[0] : offsets[-1]].tobytes()
    hits = [m.start() + int(offsets[0]) for m in _INVISIBLE_UTF8.finditer(raw)]
    if not hits:
        return
    for row in np.unique(np.searchsorted(offsets, np.array(hits), side="right") - 1):
        value = out[int(row)].as_py() or ""
        flags.add(row, "bad_encoding", f"{name}: {describe_invisible(value)}", None)


def _decode_distinct(arr: pa.Array, codec: str, name: str, flags: Flags) -> pa.Array:
    enc = pc.dictionary_encode(arr)
    values: list[str | None] = []
    bad: dict[int, str] = {}
    for i, b in enumerate(enc.dictionary.to_pylist()):
        try:
            text = b.decode(codec)
        except UnicodeDecodeError as e:
            values.append(None)
            bad[i] = (f"{name}: bytes {hex_bytes(b[e.start : max(e.end, e.start + 1) + 1])} at byte {e.start} "
                      f"are not {codec}")
            continue
        what = describe_invisible(text)
        if what:
            bad[i] = f"{name}: {what}"
        values.append(text.strip())  # the distinct values are few: trimming them here is free
    out = pa.DictionaryArray.from_arrays(enc.indices, pa.array(values, pa.string())).cast(pa.string())
    if bad:
        idx = enc.indices.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(np.isin(idx, list(bad))):
            flags.add(i, "bad_encoding", bad[int(idx[i])])
    return out


def tidy(arr: pa.Array, trimmed: bool = False) -> pa.Array:
    """Trim whitespace (only when some value has it at an edge) and make empty values null (no copy)."""
    offsets, data = _values(arr)
    starts, ends = offsets[:-1], offsets[1:]
    nonempty = ends > starts
    full = bool(nonempty.all())
    if not trimmed and (full or nonempty.any()):
        first = data[starts] if full else data[starts[nonempty]]
        last = data[ends - 1] if full else data[ends[nonempty] - 1]
        # ASCII whitespace, or a non-ASCII edge (U+3000 and friends): let Arrow decide. Signed view: one
        # comparison finds both (bytes >= 0x80 are negative).
        if int(first.view(np.int8).min()) <= 0x20 or int(last.view(np.int8).min()) <= 0x20:
            arr = pc.utf8_trim_whitespace(arr)
            offsets, _ = _values(arr)
            nonempty = offsets[1:] > offsets[:-1]
            full = bool(nonempty.all())
    if full:
        return arr
    valid = nonempty
    if arr.null_count:
        valid = valid & arr.is_valid().to_numpy(zero_copy_only=False)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    b = arr.buffers()
    return pa.Array.from_buffers(pa.string(), len(arr), [bitmap, b[1], b[2]], offset=arr.offset)


# --- CSV ------------------------------------------------------------------------------------

@dataclass
class Header:
    names: list[str]
    extra: list[str]  # columns the contract does not declare


def parse_header(line: bytes, contract: Contract, filename: str) -> Header:
    """Decode and check the header line: encoding, required columns, undeclared (extra) columns."""
    line = line.rstrip(b"\r\n")
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    expected = {c.source for c in contract.columns}
    codec = python_codec(contract.encoding)
    names: list[str] | None = None
    try:
        names = next(csv.reader([line.decode(codec)]))
    except UnicodeDecodeError:
        pass
    except StopIteration:
        raise FileRejected("empty_file", f"{filename} has no header line") from None
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
            raise FileRejected("wrong_encoding", f"{filename}: the header is not {contract.encoding} "
                               f"(bytes {hex_bytes(line)})")
    missing = [c.source for c in contract.columns if c.required and c.source not in names]
    if missing:
        raise FileRejected(
            "missing_columns",
            f"{filename} lacks required column(s) {', '.join(missing)} of contract {contract.path.name}",
        )
    seen: set[str] = set()
    extra = []
    for n in names:
        if n not in expected or n in seen:
            extra.append(n)
        seen.add(n)
    if extra and contract.extra_columns == "reject":
        raise FileRejected(
            "extra_columns",
            f"{filename} has column(s) {', '.join(extra)} that contract {contract.path.name} does not "
            "declare (its policy is `reject`); add them to the contract or ask the sender to drop them",
        )
    return Header(names, extra)


class CsvReader:
    """Batches of one CSV file (see the module docstring). `header` is known after the first batch."""

    def __init__(self, source: ByteReader, contract: Contract, filename: str) -> None:
        self.source, self.contract, self.filename = source, contract, filename
        self.header: Header | None = None
        self.bad_encoding = 0
        self.records = 0

    def schema(self) -> pa.Schema:
        return pa.schema([("_line", pa.int64()), ("_malformed", pa.string()), ("_detail", pa.string()),
                          ("_text", pa.string()), *[(c.name, pa.string()) for c in self.contract.columns]])

    def batches(self) -> Iterator[pa.RecordBatch]:
        items = self.source.items()
        first = next(items, None)
        if first is None:
            raise FileRejected("empty_file", f"{self.filename} is empty")
        if isinstance(first, LongLine):
            raise FileRejected("line_too_long", f"{self.filename}: the header line is {first.length:,} bytes long "
                               f"(limit {self.contract.limits.max_line_bytes:,})")
        nl = first.data.find(b"\n")
        head = first.data if nl < 0 else first.data[:nl]
        if not head.strip():
            if not first.data.strip() and all(isinstance(i, Block) and not i.data.strip() for i in items):
                raise FileRejected("empty_file", f"{self.filename} holds nothing but blank lines")
            raise FileRejected("missing_columns", f"{self.filename}: line 1 is blank; the header must be line 1")
        self.header = parse_header(head, self.contract, self.filename)
        rest = b"" if nl < 0 else first.data[nl + 1 :]
        last_malformed, last_line = False, 1
        pending: list[Block | LongLine] = [Block(first.first_line + 1, rest, first.lines - 1)] if rest else []
        for item in _chain(pending, items):
            if isinstance(item, LongLine):
                self.records += 1
                last_malformed, last_line = False, item.line
                yield self._long_line(item)
                continue
            for batch, tail_bad in self._block(item):
                self.records += batch.num_rows
                last_malformed, last_line = tail_bad, batch.column(0)[-1].as_py()
                yield batch
        if not self.source.ends_with_newline and last_malformed:
            raise FileRejected(
                "truncated_file",
                f"{self.filename} ends in the middle of line {last_line}; ask {self.contract.company} to resend it",
            )

    def _long_line(self, item: LongLine) -> pa.RecordBatch:
        text = item.head.decode(python_codec(self.contract.encoding), errors="replace")
        detail = f"{item.length:,} bytes (limit {self.contract.limits.max_line_bytes:,})"
        return self._assemble({}, np.array([item.line]), Flags({0: ("line_too_long", detail, text)}), 1)

    def _block(self, block: Block) -> Iterator[tuple[pa.RecordBatch, bool]]:
        data = block.data
        if data.isspace():  # blank lines carry nothing (isspace stops at the first other byte)
            return
        width = len(self.header.names)
        positional = [f"f{i}" for i in range(width)]
        quoted = b'"' in data
        table = None
        parse_block = max(BLOCK_BYTES // 2 + 1, 2 * self.contract.limits.max_line_bytes)
        try:
            table = pacsv.read_csv(
                pa.BufferReader(data),
                # two parser blocks per reader block: both cores parse, few batches to handle
                read_options=pacsv.ReadOptions(column_names=positional,
                                               block_size=parse_block),
                # no invalid-row handler: a row of the wrong width raises, and the exact reader takes the block
                parse_options=pacsv.ParseOptions(ignore_empty_lines=True, newlines_in_values=quoted),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(positional, pa.binary()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid:
            table = None  # a malformed row, an unterminated quote: the exact reader says where
        if table is None:
            yield from self._exact(block)
            return
        # One record per line: the numbering is exact. Fewer records than lines: blank lines (skipped by
        # the parser, so number the non-blank ones) or quoted line breaks (then the exact reader).
        lines = np.arange(block.first_line, block.first_line + block.lines, dtype=np.int64)
        if table.num_rows != block.lines:
            lines = _nonblank_lines(data, block.first_line)
            if table.num_rows != len(lines):
                yield from self._exact(block)
                return
        for batch in table.to_batches(max_chunksize=1 << 17):
            n = batch.num_rows
            cols = {self.header.names[i]: batch.column(i) for i in range(width)}
            yield self._assemble(cols, lines[:n], Flags(), n), False
            lines = lines[n:]

    def _exact(self, block: Block) -> Iterator[tuple[pa.RecordBatch, bool]]:
        """Python's csv module over one block: exact lines for malformed rows and quoted line breaks."""
        width = len(self.header.names)
        codec = python_codec(self.contract.encoding)
        # latin-1 maps every byte to one character and back, so the bytes survive untouched.
        src = _Lines(block.data.decode("latin-1"), block.lines)
        reader = csv.reader(src)
        cols: list[list[bytes]] = [[] for _ in range(width)]
        numbers: list[int] = []
        flags = Flags()
        last_bad = False
        while True:
            start = src.consumed
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as e:  # e.g. a field over the size limit: that record, then carry on
                fields, reason = None, f"cannot be split ({e})"
                reader = csv.reader(src)
            else:
                if not fields:  # a blank line carries nothing
                    continue
                reason = None if len(fields) == width else f"{len(fields)} fields, the header has {width}"
            numbers.append(block.first_line + start)
            if reason is None:
                for i, f in enumerate(fields):
                    cols[i].append(f.encode("latin-1"))
            else:
                for c in cols:
                    c.append(b"")
                raw = src.text(start).encode("latin-1").decode(codec, errors="replace")[:TEXT_KEEP]
                flags.add(len(numbers) - 1, "malformed_row", reason, raw.rstrip("\r\n"))
            last_bad = reason is not None
            if len(numbers) >= 1 << 17:
                yield self._exact_batch(cols, numbers, flags), last_bad
                cols, numbers, flags = [[] for _ in range(width)], [], Flags()
        if numbers:
            yield self._exact_batch(cols, numbers, flags), last_bad

    def _exact_batch(self, cols: list[list[bytes]], numbers: list[int], flags: Flags) -> pa.RecordBatch:
        arrays = {self.header.names[i]: pa.array(c, pa.binary()) for i, c in enumerate(cols)}
        return self._assemble(arrays, np.array(numbers, np.int64), flags, len(numbers))

    def _assemble(self, cols: dict[str, pa.Array], lines: np.ndarray, flags: Flags, n: int) -> pa.RecordBatch:
        """Decode, tidy and name the fields; the reader's own rejections go to `_malformed`."""
        out: dict[str, pa.Array] = {}
        for c in self.contract.columns:
            raw = cols.get(c.source)
            if raw is None:
                out[c.name] = pa.nulls(n, pa.string())
                continue
            if isinstance(raw, pa.ChunkedArray):
                raw = raw.combine_chunks()
            out[c.name] = tidy(*decode_column(raw, self.contract.encoding, c.name, flags))
        malformed = detail = text = pa.nulls(n, pa.string())
        if flags.rows:
            idx = sorted(flags.rows)
            self.bad_encoding += sum(1 for i in idx if flags.rows[i][0] == "bad_encoding")
            m, d, t = [None] * n, [None] * n, [None] * n
            for i in idx:
                m[i], d[i], t[i] = flags.rows[i]
                if t[i] is None and m[i] == "bad_encoding":
                    t[i] = _row_text(cols, self.header.names if self.header else [], i,
                                     python_codec(self.contract.encoding))
            malformed, detail, text = pa.array(m, pa.string()), pa.array(d, pa.string()), pa.array(t, pa.string())
        return pa.record_batch([pa.array(lines, pa.int64()), malformed, detail, text,
                                *[out[c.name] for c in self.contract.columns]], schema=self.schema())


class _Lines:
    """The physical lines of a block for csv.reader, counting how many it consumed."""

    def __init__(self, text: str, n: int) -> None:
        self.parts = text.split("\n")[:n]
        self.consumed = 0
        self._last_end = text.endswith("\n")

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.consumed >= len(self.parts):
            raise StopIteration
        part = self.parts[self.consumed]
        self.consumed += 1
        last = self.consumed == len(self.parts)
        return part if last and not self._last_end else part + "\n"

    def text(self, start: int) -> str:
        """The physical lines of the record that began at `start`."""
        return "\n".join(self.parts[start : max(self.consumed, start + 1)])


def _row_text(cols: dict[str, pa.Array], names: list[str], i: int, codec: str) -> str:
    parts = []
    for n in names:
        arr = cols.get(n)
        v = arr[i].as_py() if arr is not None else b""
        parts.append(v.decode(codec, errors="replace") if isinstance(v, bytes) else (v or ""))
    return ",".join(parts)[:TEXT_KEEP]


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _nonblank_lines(data: bytes, first_line: int) -> np.ndarray:
    """Line numbers of the non-blank lines of a block (blank: empty or a lone carriage return)."""
    a = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(a == 10)
    if len(data) and data[-1:] != b"\n":
        ends = np.concatenate([ends, [len(data)]])
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts
    lone_cr = (length == 1) & (a[np.minimum(starts, len(a) - 1)] == 13)
    keep = (length > 0) & ~lone_cr
    return (first_line + np.flatnonzero(keep)).astype(np.int64)


# --- JSON Lines -----------------------------------------------------------------------------

DRIFT_SAMPLE_HEAD, DRIFT_SAMPLE_EVERY = 100, 1000  # JSON records whose keys are compared with the contract


def declared_paths(contract: Contract) -> set[str]:
    """Key paths a contract reads from JSON: `customer`, `customer.gid`, `items`, `items[].sku`, ..."""
    out: set[str] = set()
    for c in contract.columns:
        parts = c.source.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        out.update(f"{c.source}[].{f.source}" for f in c.fields)
    return out


def key_paths(value: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}{k}"
            out.add(path)
            out |= key_paths(v, path + ".")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict):
                out |= key_paths(v, prefix[:-1] + "[]." if prefix else "[].")
    return out


class JsonlReader:
    """Batches of one JSON Lines file: `_json` holds each line's text (validated UTF-8).

    Drift: the keys of the first 100 records and of every 1,000th are compared with the contract (a
    new key in every record is seen at once; none is ever landed, whatever the sample)."""

    def __init__(self, source: ByteReader, contract: Contract, filename: str) -> None:
        self.source, self.contract, self.filename = source, contract, filename
        self.bad_encoding = 0
        self.records = 0
        self._declared = declared_paths(contract)
        self._seen_paths: set[str] = set()

    @property
    def drift(self) -> list[str]:
        """Undeclared keys seen (the outermost of each), e.g. `server_name`, `customer.rank`."""
        extra = self._seen_paths - self._declared
        return sorted(p for p in extra if not any(p.startswith(q + ".") or p.startswith(q + "[].") for q in extra))

    @staticmethod
    def schema() -> pa.Schema:
        return pa.schema([("_line", pa.int64()), ("_malformed", pa.string()), ("_detail", pa.string()),
                          ("_text", pa.string()), ("_json", pa.string())])

    def batches(self) -> Iterator[pa.RecordBatch]:
        any_bytes = False
        for item in self.source.items():
            if isinstance(item, LongLine):
                any_bytes = True
                self.records += 1
                text = item.head.decode("utf-8", errors="replace")
                detail = f"{item.length:,} bytes (limit {self.contract.limits.max_line_bytes:,})"
                yield pa.record_batch([pa.array([item.line], pa.int64()), pa.array(["line_too_long"]),
                                       pa.array([detail]), pa.array([text]), pa.nulls(1, pa.string())],
                                      schema=self.schema())
                continue
            if item.data.strip():
                any_bytes = True
            batch = self._block(item)
            if batch is not None and batch.num_rows:
                self.records += batch.num_rows
                yield batch
        if not any_bytes:
            raise FileRejected("empty_file", f"{self.filename} is empty")

    def _block(self, block: Block) -> pa.RecordBatch | None:
        data = block.data
        a = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(a == 10)
        unterminated = bool(len(data)) and data[-1:] != b"\n"
        offsets = np.concatenate([[0], ends + 1, [len(data)] if unterminated else []]).astype(np.int32)
        n = len(offsets) - 1
        lines = np.arange(block.first_line, block.first_line + n, dtype=np.int64)
        arr = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        length = np.diff(offsets)
        starts = offsets[:-1]
        safe = np.minimum(starts, max(len(a) - 1, 0))
        first = a[safe] if len(a) else np.zeros(n, np.uint8)
        blank = (length <= 1) | ((length == 2) & (first == 13))
        maybe_ws = ~blank & ((first == 32) | (first == 9) | (first == 13))
        for i in np.flatnonzero(maybe_ws):  # rare: lines that start with whitespace may be all whitespace
            if not data[starts[i] : starts[i] + length[i]].strip():
                blank[i] = True
        if unterminated and not self._tail_is_json(data[starts[-1] :]):
            raise FileRejected("truncated_file", f"{self.filename} ends in the middle of line {int(lines[-1])}; "
                               f"ask {self.contract.company} to resend it")
        if blank.any():
            keep = pa.array(~blank)
            arr, lines = arr.filter(keep), lines[~blank]
        flags = Flags()
        try:
            text = arr.cast(pa.string())
        except pa.ArrowInvalid:
            text = self._decode_lines(arr, flags)
        body = a
        if _any_control_json(body) or bool(np.isin(body, _NON_ASCII_SUSPECTS).any()):
            _flag_invisible(text, "line", flags)
        m = d = t = pa.nulls(len(arr), pa.string())
        self._sample_keys(text, lines)
        if flags.rows:
            self.bad_encoding += sum(1 for r in flags.rows.values() if r[0] == "bad_encoding")
            mm, dd, tt = [None] * len(arr), [None] * len(arr), [None] * len(arr)
            for i, (reason, det, txt) in flags.rows.items():
                mm[i], dd[i] = reason, det
                tt[i] = txt if txt is not None else (arr[i].as_py() or b"").decode("utf-8", "replace")[:TEXT_KEEP]
            m, d, t = pa.array(mm, pa.string()), pa.array(dd, pa.string()), pa.array(tt, pa.string())
            text = pc.if_else(pc.is_null(m), text, pa.scalar(None, pa.string()))
        return pa.record_batch([pa.array(lines, pa.int64()), m, d, t, text], schema=self.schema())

    def _sample_keys(self, text: pa.Array, lines: np.ndarray) -> None:
        import json

        pick = np.flatnonzero((lines <= DRIFT_SAMPLE_HEAD) | (lines % DRIFT_SAMPLE_EVERY == 0))
        for i in pick:
            raw = text[int(i)].as_py()
            try:
                self._seen_paths |= key_paths(json.loads(raw)) if raw else set()
            except ValueError:
                continue

    @staticmethod
    def _tail_is_json(tail: bytes) -> bool:
        import json

        try:
            json.loads(tail)
        except ValueError:
            return not tail.strip()
        return True

    @staticmethod
    def _decode_lines(arr: pa.Array, flags: Flags) -> pa.Array:
        """Per-line decoding, only for a block that holds undecodable bytes."""
        out: list[str | None] = []
        for i, raw in enumerate(arr.to_pylist()):
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                out.append(None)
                flags.add(i, "bad_encoding", f"bytes {hex_bytes(raw[e.start : max(e.end, e.start + 1) + 1])} "
                          f"at byte {e.start} are not utf-8", raw.decode("utf-8", "replace")[:TEXT_KEEP])
        return pa.array(out, pa.string())


def _any_control_json(body: np.ndarray) -> bool:
    return _any_control(body)


# --- entry point ----------------------------------------------------------------------------

def open_reader(stream: BinaryIO, contract: Contract, filename: str) -> tuple[ByteReader, CsvReader | JsonlReader]:
    """The byte reader and the parser of one CSV or JSON Lines file under its contract."""
    source = ByteReader(stream, filename, contract.limits, gzip=contract.compression == "gzip",
                        csv_quotes=contract.format == "csv")
    if contract.format == "csv":
        return source, CsvReader(source, contract, filename)
    if contract.format == "jsonl":
        return source, JsonlReader(source, contract, filename)
    raise ValueError(f"no streaming reader for {contract.format}")


def text_of(value: bytes | None, codec: str) -> str:
    """A record's text for quarantine, whatever its bytes."""
    return (value or b"").decode(codec, errors="replace")[:TEXT_KEEP]


