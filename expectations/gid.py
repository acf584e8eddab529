"""The gid rule (DESIGN §3) on Arrow values, without Great Expectations: 12 ASCII digits whose last is the Luhn
check digit of the first 11. The GX expectation (`custom.ExpectColumnValuesToBeValidGid`) and the landing
gate's proof from distinct values (`gates.check_landing`) both call `gid_ok`, so they cannot disagree."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GID_DIGITS = 12
# Luhn over the first 11 digits: positions 1, 3, ..., 11 (counting from the left) are doubled, and a
# doubled digit counts as the sum of its digits.
DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9])


def gid_ok(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where the value is a valid gid (nulls are left to not-null expectations: True)."""
    text = values.cast(pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    shaped = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{12}$"), False).to_numpy(zero_copy_only=False)
    out = np.ones(len(text), dtype=bool)
    out[text.is_valid().to_numpy(zero_copy_only=False)] = False
    good = text.filter(pa.array(shaped))
    if len(good):
        # Every value left is 12 ASCII digits, so the values' bytes are one contiguous block of them: read the
        # digits straight from the Arrow buffer (no Python string per value).
        offsets = np.frombuffer(good.buffers()[1], np.int64)[good.offset : good.offset + len(good) + 1]
        data = np.frombuffer(good.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
        digits = (data.reshape(-1, GID_DIGITS) - 48).astype(np.int64)
        body = digits[:, :11]
        odd = np.arange(11) % 2 == 0  # 0-based positions 0, 2, ..., 10 = positions 1, 3, ..., 11
        total = DOUBLED[body[:, odd]].sum(axis=1) + body[:, ~odd].sum(axis=1)
        out[np.flatnonzero(shaped)] = (10 - total % 10) % 10 == digits[:, 11]
    return out
