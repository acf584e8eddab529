"""The group member ID (gid): 12 digits, the 12th is the Luhn check digit of the first 11.

Vectorised (numpy) helpers for the generator and a scalar :func:`luhn_ok` for validators.
"""

from __future__ import annotations

import numpy as np

GID_LENGTH = 12
_PAYLOAD = GID_LENGTH - 1


def luhn_ok(gid: str) -> bool:
    """True if ``gid`` is 12 ASCII digits whose last digit is the Luhn check digit of the first 11."""
    if not isinstance(gid, str) or len(gid) != GID_LENGTH or not gid.isascii() or not gid.isdigit():
        return False
    return luhn_check_digit(gid[:-1]) == int(gid[-1])


def luhn_check_digit(payload: str) -> int:
    """The Luhn check digit for a string of digits (scalar)."""
    total = 0
    for pos, ch in enumerate(reversed(payload)):
        d = ord(ch) - 48
        if pos % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_check_digits(payload: np.ndarray, ndigits: int = _PAYLOAD) -> np.ndarray:
    """Vectorised Luhn check digit of non-negative integers written with ``ndigits`` digits."""
    x = np.asarray(payload, dtype=np.int64).copy()
    total = np.zeros(x.shape, dtype=np.int64)
    for pos in range(ndigits):  # pos 0 = rightmost payload digit, which is doubled
        d = x % 10
        x //= 10
        if pos % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    return ((10 - total % 10) % 10).astype(np.int64)


def make_gids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct random valid gids as int64 (12 digits, first digit non-zero), in random order."""
    lo, hi = 10**10, 10**11  # 11-digit payloads with a non-zero first digit
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        draw = rng.integers(lo, hi, size=int((n - out.size) * 1.05) + 16, dtype=np.int64)
        merged = np.concatenate([out, draw])
        _, first = np.unique(merged, return_index=True)
        out = merged[np.sort(first)]
    payload = out[:n]
    return payload * 10 + luhn_check_digits(payload)


def corrupt_check_digits(gids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same gids with a wrong (but still numeric) check digit: a bad ID."""
    g = np.asarray(gids, dtype=np.int64)
    shift = rng.integers(1, 10, size=g.shape, dtype=np.int64)
    last = g % 10
    return g - last + (last + shift) % 10


def gids_valid(gids: np.ndarray) -> np.ndarray:
    """Vectorised Luhn validity of 12-digit int64 gids."""
    g = np.asarray(gids, dtype=np.int64)
    return (g // 10 >= 10**10) & (g // 10 < 10**11) & (luhn_check_digits(g // 10) == g % 10)
