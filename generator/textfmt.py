"""Vectorised text building: fixed-width numbers and timestamps, CSV and JSON Lines serialisation.

Everything here works on whole columns (numpy / pyarrow); nothing loops over rows in Python.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

# timestamp templates: Y/M/D/h/m/s runs are digits, everything else is literal
TS_CVS = "YYYY/MM/DD hh:mm:ss"
TS_ISO_JST = "YYYY-MM-DDThh:mm:ss+09:00"
TS_MINUTE = "YYYY-MM-DD hh:mm"
TS_ISO_Z = "YYYY-MM-DDThh:mm:ssZ"
TS_DATE = "YYYY-MM-DD"

_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), dtype=np.uint8).reshape(10_000, 4)
CSV_BATCH_ROWS = 1 << 18


def strings_from_matrix(mat: np.ndarray) -> pa.StringArray:
    """A string array from an (n, width) uint8 matrix of bytes (one fixed-width value per row).

    The bytes are not validated as UTF-8 (this lets cp932 text pass through the CSV writer)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, width = mat.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32 if n * width < 2**31 else np.int64)
    typ = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(mat.tobytes())])


def raw_strings(values: Sequence[bytes]) -> pa.StringArray:
    """A string array holding raw (possibly non-UTF-8) byte values, without validation."""
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(v) for v in values])
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
    )


def put_digits(mat: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    """Write ``values`` zero-padded to ``width`` digits into columns col..col+width of ``mat`` (the lowest
    ``width`` digits), four digits at a time from the table of "0000" to "9999"."""
    v = np.asarray(values, dtype=np.int64)
    end = col + width
    while end > col:
        k = min(4, end - col)
        q = v // 10_000  # numpy divides by a constant fast; np.divmod and % are several times slower
        mat[:, end - k : end] = np.take(_DIGITS4[:, 4 - k :], v - q * 10_000, axis=0)
        v = q
        end -= k


def fixed_digits(values: np.ndarray, width: int, prefix: str = "", suffix: str = "") -> pa.StringArray:
    """Zero-padded decimal strings with a constant prefix/suffix, e.g. ``SM000012345``."""
    v = np.asarray(values, dtype=np.int64)
    pre, suf = prefix.encode(), suffix.encode()
    mat = np.empty((v.size, len(pre) + width + len(suf)), dtype=np.uint8)
    if pre:
        mat[:, : len(pre)] = np.frombuffer(pre, dtype=np.uint8)
    if suf:
        mat[:, len(pre) + width :] = np.frombuffer(suf, dtype=np.uint8)
    put_digits(mat, len(pre), v, width)
    return strings_from_matrix(mat)


def civil_from_epoch_seconds(sec: np.ndarray) -> tuple[np.ndarray, ...]:
    """(year, month, day, hour, minute, second) arrays from seconds since 1970-01-01 (naive)."""
    sec = np.asarray(sec, dtype=np.int64)
    days = sec // 86400
    rem = sec - days * 86400
    if days.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z, z, z
    lo, hi = int(days.min()), int(days.max())
    if hi - lo < 4096:  # few distinct days (the usual case): compute the calendar once per day
        span = np.arange(lo, hi + 1, dtype=np.int64)
        y, mo, dd = _civil_days(span)
        k = days - lo
        year, month, dom = y[k], mo[k], dd[k]
    else:
        year, month, dom = _civil_days(days)
    return year, month, dom, rem // 3600, (rem // 60) % 60, rem % 60


def _civil_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    year = m.astype("datetime64[Y]").astype(np.int64) + 1970
    month = m.astype(np.int64) % 12 + 1
    dom = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, dom


def _template_fields(template: str) -> list[tuple[str, int, int]]:
    """The digit fields of a timestamp template as (letter, first column, width), e.g. ("Y", 0, 4)."""
    fields, i = [], 0
    while i < len(template):
        j = i
        while j < len(template) and template[j] == template[i]:
            j += 1
        if template[i] in "YMDhms":
            fields.append((template[i], i, j - i))
        i = j
    return fields


def _timestamp_matrix(sec: np.ndarray, template: str) -> np.ndarray:
    """(n, len(template)) bytes of ``template`` filled in for each of ``sec`` (digit by digit)."""
    values = dict(zip("YMDhms", civil_from_epoch_seconds(sec), strict=True))
    mat = np.empty((sec.size, len(template)), dtype=np.uint8)
    mat[:] = np.frombuffer(template.encode(), dtype=np.uint8)
    for ch, col, width in _template_fields(template):
        put_digits(mat, col, values[ch], width)
    return mat


@cache
def _clock_matrix(template: str) -> np.ndarray:
    """``template`` at each second of a day (row = second of the day); the date fields hold 1970-01-01.

    The time of day and the literals are the same on every day, so they are formatted once per process."""
    mat = _timestamp_matrix(np.arange(86400, dtype=np.int64), template)
    mat.flags.writeable = False
    return mat


def format_timestamps(sec: np.ndarray, template: str) -> pa.StringArray:
    """Format naive epoch seconds with a template such as :data:`TS_CVS` (vectorised).

    When the values span few days (the usual case) each row is its time of day, from a per-process table of
    the 86,400 seconds, with the date span (first to last date character) of one formatted row per day."""
    sec = np.asarray(sec, dtype=np.int64)
    days = sec // 86400
    clock = sec - days * 86400
    fields = _template_fields(template)
    dated = [(col, width) for ch, col, width in fields if ch in "YMD"]
    first, last = (dated[0][0], dated[-1][0] + dated[-1][1]) if dated else (0, 0)
    clock_in_span = any(first <= col < last for ch, col, _ in fields if ch in "hms")
    if sec.size == 0 or not dated or clock_in_span or int(days.max()) - int(days.min()) >= 4096:
        return strings_from_matrix(_timestamp_matrix(sec, template))
    lo = int(days.min())
    dates = _timestamp_matrix(np.arange(lo, int(days.max()) + 1, dtype=np.int64) * 86400, template)[:, first:last]
    mat = np.take(_clock_matrix(template), clock, axis=0)
    mat[:, first:last] = np.take(dates, days - lo, axis=0)
    return strings_from_matrix(mat)


_DAY_CACHE: dict[tuple[int, str, int], pa.StringArray] = {}


def day_dictionary(day_epoch_sec: int, template: str, shift_sec: int = 0) -> pa.StringArray:
    """The 86,400 formatted times of one day (index = second of the day), shifted by ``shift_sec``.

    A small cache keeps the last few days' dictionaries (several feeds share a format)."""
    key = (day_epoch_sec, template, shift_sec)
    hit = _DAY_CACHE.get(key)
    if hit is None:
        hit = format_timestamps(np.arange(86400, dtype=np.int64) + day_epoch_sec + shift_sec, template)
        if len(_DAY_CACHE) > 16:
            _DAY_CACHE.clear()
        _DAY_CACHE[key] = hit
    return hit


def dict_column(indices: np.ndarray, dictionary: pa.Array, null_mask: np.ndarray | None = None) -> pa.Array:
    """A dictionary-encoded column: ``dictionary[indices]`` with optional nulls (cheap for writers)."""
    idx = np.asarray(indices)
    idx = idx.astype(np.int32 if len(dictionary) >= 2**15 else np.int16, copy=False)
    if null_mask is not None and null_mask.any():
        idx = np.where(null_mask, 0, idx).astype(idx.dtype)
        return pa.DictionaryArray.from_arrays(pa.array(idx, mask=null_mask), dictionary)
    return pa.DictionaryArray.from_arrays(pa.array(idx), dictionary)


def decode(col: pa.Array) -> pa.Array:
    """Materialise a dictionary column as plain strings (or leave other arrays unchanged)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        return col.dictionary.take(col.indices)
    return col


def csv_bytes(table: pa.Table, header: Sequence[str], encoding: str = "utf-8", bom: bool = False) -> bytes:
    """Serialise a table as CSV (LF line ends, no quoting: values never contain , " or newlines).

    ``header`` is written as given (encoded with ``encoding``); string values are written byte for byte,
    so cp932 files must carry cp932 bytes in their (few) non-ASCII columns."""
    out = io.BytesIO()
    if bom:
        out.write(b"\xef\xbb\xbf")
    out.write((",".join(header) + "\n").encode(encoding))
    if table.num_rows:
        # Arrow's default batch of 1,024 rows costs a third more time than large batches (same bytes)
        options = pcsv.WriteOptions(include_header=False, quoting_style="none", batch_size=CSV_BATCH_ROWS)
        pcsv.write_csv(table, out, options)
    return out.getvalue()


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise string concatenation of columns and literals."""
    return pc.binary_join_element_wise(*parts, "")


def to_str(values: np.ndarray | pa.Array) -> pa.Array:
    """Decimal text of an integer column."""
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    return pc.cast(arr, pa.string())


def lines_bytes(lines: pa.Array) -> bytes:
    """Concatenate string values (each already ending in a newline) into one bytes object."""
    return lines_buffer(lines).to_pybytes()


def lines_buffer(lines: pa.Array) -> pa.Buffer:
    """The bytes of :func:`lines_bytes` as a slice of the column's data buffer (no copy)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if len(lines) == 0:
        return pa.py_buffer(b"")
    if lines.null_count:
        raise ValueError("null line in output")
    bufs = lines.buffers()
    off_t = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_t, count=len(lines) + 1, offset=lines.offset * off_t().itemsize)
    return bufs[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def json_lists(items: pa.Array, counts: np.ndarray) -> pa.Array:
    """``[a,b,...]`` JSON arrays from per-element JSON texts grouped by consecutive ``counts``."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), items)
    return concat("[", pc.binary_join(lists, ","), "]")


def by_group(groups: np.ndarray, builders: Sequence[Callable[[np.ndarray], pa.Array]]) -> pa.Array:
    """A string column whose rows with ``groups == g`` are ``builders[g](rows)``, ``rows`` being their
    indices in order: each builder formats its own rows only (cheaper than formatting every row every way
    and choosing)."""
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups, np.arange(len(builders) + 1), sorter=order)
    chunks = [decode(build(order[bounds[g] : bounds[g + 1]])) for g, build in enumerate(builders)]
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return pa.concat_arrays(chunks).take(pa.array(position))


def json_quote(col: pa.Array) -> pa.Array:
    """JSON string literal of each value (values must not contain quotes, backslashes or controls)."""
    return concat('"', col, '"')
