"""Serialisation of one day's simulated data into the exact extract formats of DESIGN section 3,
with optional row-level faults (bad records) and column-level file faults."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import catalog as cat
from .day import APP_NAMES, APP_SCREENS, KIND_CAMPAIGN, DayData
from .geo import PREF_NAMES
from .gid import corrupt_check_digits
from .textfmt import (
    TS_CVS,
    TS_ISO_JST,
    TS_ISO_Z,
    TS_MINUTE,
    by_group,
    concat,
    csv_bytes,
    day_dictionary,
    decode,
    dict_column,
    fixed_digits,
    format_timestamps,
    json_lists,
    json_quote,
    lines_buffer,
    lines_bytes,
    raw_strings,
    to_str,
)
from .world import World

ROW_KINDS = (
    "bad_gid",
    "negative_amount",
    "future_date",
    "unparseable_time",
    "pii_in_free_text",
    "missing_required",
)
FILE_KINDS = ("wrong_encoding", "truncated_file", "missing_columns", "extra_columns", "duplicate_file")

# which row-level faults each daily feed can carry
FEED_ROW_KINDS: dict[str, tuple[str, ...]] = {
    "cvs": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
    "gms": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
    "dept": ROW_KINDS,
    "diner": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
    "sm": ("negative_amount", "future_date", "missing_required"),
    "baby": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
    "ec": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
    "app": ("bad_gid", "future_date", "unparseable_time", "missing_required"),
    "money": ("bad_gid", "negative_amount", "future_date", "unparseable_time", "missing_required"),
}
# how each fault shows (documented in truth.json)
FAULT_FIELDS: dict[str, dict[str, str]] = {
    "cvs": {
        "bad_gid": "会員ID",
        "negative_amount": "金額(税込)",
        "future_date": "取引日時",
        "unparseable_time": "取引日時",
        "missing_required": "取引ID (blank)",
    },
    "gms": {
        "bad_gid": "member_no",
        "negative_amount": "net_amount",
        "future_date": "sold_at",
        "unparseable_time": "sold_at",
        "missing_required": "receipt_no (blank)",
    },
    "dept": {
        "bad_gid": "customer.gid",
        "negative_amount": "total_yen",
        "future_date": "issued_at",
        "unparseable_time": "issued_at",
        "pii_in_free_text": "note",
        "missing_required": "receipt_id (key absent)",
    },
    "diner": {
        "bad_gid": "gid",
        "negative_amount": "total_yen",
        "future_date": "visited_at",
        "unparseable_time": "visited_at",
        "missing_required": "check_id (blank)",
    },
    "sm": {"negative_amount": "amount", "future_date": "ts", "missing_required": "receipt_id (null)"},
    "baby": {
        "bad_gid": "gid",
        "negative_amount": "amount_yen",
        "future_date": "purchased_at",
        "unparseable_time": "purchased_at",
        "missing_required": "receipt_id (blank)",
    },
    "ec": {
        "bad_gid": "gid",
        "negative_amount": "lines[0].unit_price_yen",
        "future_date": "ordered_at",
        "unparseable_time": "ordered_at",
        "missing_required": "order_id (key absent)",
    },
    "app": {
        "bad_gid": "gid",
        "future_date": "occurred_at",
        "unparseable_time": "occurred_at (a string)",
        "missing_required": "event_id (key absent)",
    },
    "money": {
        "bad_gid": "gid",
        "negative_amount": "amount_yen",
        "future_date": "occurred_at",
        "unparseable_time": "occurred_at",
        "missing_required": "txn_id (blank)",
    },
}
LINE_BASIS = {
    "csv": "1-based physical line of the file, the header being line 1",
    "jsonl": "1-based line of the file (one record a line, no header)",
    "parquet": "0-based record index in the file",
}
EXTRA_COLUMN = "terminal_id"
MISSING_COLUMN = {
    "cvs": "金額(税込)",
    "gms": "net_amount",
    "diner": "total_yen",
    "baby": "amount_yen",
    "money": "amount_yen",
}


@dataclass
class FileOut:
    company: str
    feed: str
    name: str
    data: bytes
    rows: int  # data rows / records in the file
    basis: str  # csv | jsonl | parquet
    faults: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> data row indices (0-based)

    def fault_lines(self, kind: str) -> np.ndarray:
        rows = self.faults[kind]
        return rows + (2 if self.basis == "csv" else 1 if self.basis == "jsonl" else 0)


def plan_row_faults(
    rng: np.random.Generator,
    n: int,
    kinds: tuple[str, ...],
    rate: float,
    eligible: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Disjoint sets of rows, about ``rate`` of the rows for each kind (sorted row indices)."""
    out: dict[str, np.ndarray] = {}
    if rate <= 0 or n == 0:
        return out
    taken = np.zeros(n, dtype=bool)
    for kind in kinds:
        ok = ~taken
        if eligible and kind in eligible:
            ok &= eligible[kind]
        cand = np.flatnonzero(ok)
        k = min(int(rng.binomial(n, rate)), len(cand))
        if k == 0:
            continue
        rows = np.sort(rng.choice(cand, size=k, replace=False))
        taken[rows] = True
        out[kind] = rows
    return out


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


def replace_rows(col: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``col`` with ``values`` at ``rows`` (sorted), as plain strings. A dictionary column of strings stays one
    unless its dictionary is much larger than the column (a small file's gids): the values join the
    dictionary, so no row is decoded (decoding and replacing costs several times more; same text written)."""
    dictionary_of_strings = pa.types.is_dictionary(col.type) and pa.types.is_string(col.type.value_type)
    if dictionary_of_strings and len(col.dictionary) <= 16 * len(col):
        return _replace_in_dictionary(col, rows, pc.cast(values, pa.string()))
    plain = decode(col)
    if not pa.types.is_string(plain.type):
        plain = pc.cast(plain, pa.string())
    return pc.replace_with_mask(plain, pa.array(_mask(len(plain), rows)), pc.cast(values, plain.type))


def _replace_in_dictionary(col: pa.DictionaryArray, rows: np.ndarray, values: pa.StringArray) -> pa.DictionaryArray:
    base = len(col.dictionary)
    idx = pc.fill_null(col.indices, 0).to_numpy().astype(np.int32 if base + len(rows) >= 2**15 else np.int16)
    idx[rows] = base + np.arange(len(rows))
    null = col.is_null().to_numpy(zero_copy_only=False)
    null[rows] = values.is_null().to_numpy(zero_copy_only=False)
    dictionary = pa.concat_arrays([col.dictionary, values])
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=null if null.any() else None), dictionary)


def _garbage_times(rng: np.random.Generator, k: int, date_txt: str, style: str) -> pa.Array:
    if style == "cvs":
        opts = [f"{date_txt.replace('-', '/')} 25:99:00", "yesterday", "2026/13/45 10:00:00", "N/A"]
    elif style == "minute":
        opts = [f"{date_txt} 25:99", "yesterday", f"{date_txt} lunch", "99-99-99 12:00"]
    else:
        opts = [
            f"{date_txt}T25:99:00+09:00",
            "yesterday",
            f"{date_txt} afternoon",
            "2026-02-30T10:00:00+09:00",
        ]
    return pa.array([opts[i] for i in rng.integers(0, len(opts), k)], pa.string())


class DayWriter:
    """Turns a :class:`DayData` into extract files. One instance per run (caches per-run dictionaries)."""

    def __init__(self, world: World, bad_rate: float) -> None:
        self.w = world
        self.bad_rate = bad_rate
        self.store_ids = {c: world.stores[c].ids for c in cat.STORE_COMPANIES}
        self.cat_codes = {c: pa.array([x.code for x in cat.CATEGORIES[c]]) for c in cat.CATEGORIES}
        self.pref_names = pa.array(list(PREF_NAMES))
        self._pii: tuple[pa.Array, pa.Array, pa.Array] | None = None
        # all store ids of store companies in one dictionary (money.store_id)
        self.all_store_off = {}
        off = 0
        for c in cat.STORE_COMPANIES:
            self.all_store_off[c] = off
            off += len(self.store_ids[c])
        self.all_store_ids = pa.concat_arrays([decode(self.store_ids[c]) for c in cat.STORE_COMPANIES])
        self.card_numbers = fixed_digits(np.arange(10000), 4, "****-****-****-")

    # ---- shared helpers ------------------------------------------------------------------------------
    def pii(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        """(name, email, phone) of every member (raw-zone PII)."""
        if self._pii is None:
            w = self.w
            sur_k = pa.array([s[0] for s in cat.SURNAMES])
            sur_r = pa.array([s[1] for s in cat.SURNAMES])
            given = cat.GIVEN_F + cat.GIVEN_M
            giv_k = pa.array([g[0] for g in given])
            giv_r = pa.array([g[1] for g in given])
            male = (w.gender == 1) | ((w.gender >= 2) & (w.email_no % 2 == 1))
            gi = w.given + np.where(male, len(cat.GIVEN_F), 0)
            name = concat(sur_k.take(pa.array(w.surname)), " ", giv_k.take(pa.array(gi)))
            email = concat(
                giv_r.take(pa.array(gi)),
                ".",
                sur_r.take(pa.array(w.surname)),
                fixed_digits(w.email_no, 5),
                "@",
                pa.array(list(cat.EMAIL_DOMAINS)).take(pa.array(w.email_dom)),
            )
            phone = concat(
                "0",
                to_str(w.phone_pre),
                "-",
                fixed_digits(w.phone_num // 10000, 4),
                "-",
                fixed_digits(w.phone_num % 10000, 4),
            )
            self._pii = (name, email, phone)
        return self._pii

    def day_epoch(self, d: int) -> int:
        return (self.w.start_day + d) * 86400

    def ymd(self, d: int) -> str:
        return self.w.date(d).strftime("%Y%m%d")

    def _gid_col(self, member: np.ndarray) -> pa.Array:
        return dict_column(np.maximum(member, 0), self.w.gid_str, null_mask=member < 0)

    def _bad_gids(self, member_rows: np.ndarray, rng: np.random.Generator) -> pa.Array:
        return fixed_digits(corrupt_check_digits(self.w.gid[member_rows], rng), 12)

    def _future(self, rng: np.random.Generator, d: int, sec: np.ndarray, template: str, shift: int = 0):
        delta = rng.integers(30, 400, len(sec))
        return format_timestamps(self.day_epoch(d) + delta * 86400 + sec + shift, template)

    def _ids(self, d: int, n: int, prefix: str, digits: int = 7, suffix: str = "") -> pa.Array:
        return fixed_digits(np.arange(1, n + 1), digits, prefix + self.ymd(d), suffix)

    def _rng(self, d: int, company: str) -> np.random.Generator:
        return np.random.default_rng([self.w.seed, 50, d, cat.ALL_COMPANIES.index(company)])

    def _plan(self, d: int, company: str, n: int, eligible: dict[str, np.ndarray] | None, row_faults: str | None):
        """Row faults for a file; none when the whole file carries a file-level fault (``row_faults``)."""
        rng = self._rng(d, company)
        rate = self.bad_rate if row_faults in (None, "duplicate_file") else 0.0
        return rng, plan_row_faults(rng, n, FEED_ROW_KINDS[company], rate, eligible)

    @staticmethod
    def _apply_column_fault(
        cols: dict[str, pa.Array], company: str, file_fault: str | None, rng: np.random.Generator
    ) -> dict[str, pa.Array]:
        if file_fault == "missing_columns":
            cols = {k: v for k, v in cols.items() if k != MISSING_COLUMN[company]}
        elif file_fault == "extra_columns":
            n = len(next(iter(cols.values())))
            cols = dict(cols)
            cols[EXTRA_COLUMN] = fixed_digits(rng.integers(1, 40, n), 3, "T")
        return cols

    def _csv(
        self,
        cols: dict[str, pa.Array],
        company: str,
        file_fault: str | None,
        rng: np.random.Generator,
        encoding: str = "utf-8",
        bom: bool = False,
    ) -> bytes:
        cols = self._apply_column_fault(cols, company, file_fault, rng)
        table = pa.table(cols)
        return csv_bytes(table, list(cols), encoding=encoding, bom=bom)

    # ---- cvs -------------------------------------------------------------------------------------------
    def cvs(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, v, ln = dd.day, dd.visits["cvs"], dd.lines["cvs"]
        n = len(ln.visit)
        member = v.member[ln.visit]
        sec = v.sec[ln.visit]
        rng, faults = self._plan(d, "cvs", n, {"bad_gid": member >= 0}, file_fault)
        amount = ln.amount.copy()
        rid_mask = None
        utf8 = file_fault == "wrong_encoding"
        pay_dict = (
            pa.array(list(cat.CVS_PAYMENTS)) if utf8 else raw_strings([p.encode("cp932") for p in cat.CVS_PAYMENTS])
        )
        cols: dict[str, pa.Array] = {
            "取引ID": None,  # type: ignore[dict-item]
            "店舗コード": dict_column(v.store[ln.visit], self.store_ids["cvs"]),
            "会員ID": self._gid_col(member),
            "取引日時": dict_column(sec, day_dictionary(self.day_epoch(d), TS_CVS)),
            "商品カテゴリ": dict_column(ln.category, self.cat_codes["cvs"]),
            "数量": pa.array(ln.qty),
            "金額(税込)": None,  # type: ignore[dict-item]
            "支払方法": dict_column(dd.pay["cvs"][ln.visit], pay_dict),
        }
        for kind, rows in faults.items():
            if kind == "bad_gid":
                cols["会員ID"] = replace_rows(cols["会員ID"], rows, self._bad_gids(member[rows], rng))
            elif kind == "negative_amount":
                amount[rows] = -np.maximum(amount[rows], 1)
            elif kind == "future_date":
                cols["取引日時"] = replace_rows(cols["取引日時"], rows, self._future(rng, d, sec[rows], TS_CVS))
            elif kind == "unparseable_time":
                cols["取引日時"] = replace_rows(
                    cols["取引日時"], rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "cvs")
                )
            elif kind == "missing_required":
                rid_mask = _mask(n, rows)
        rid = int(self.ymd(d)) * 10**8 + 1 + ln.visit
        cols["取引ID"] = pa.array(rid, mask=rid_mask)
        cols["金額(税込)"] = pa.array(amount)
        data = self._csv(cols, "cvs", file_fault, rng, encoding="utf-8" if utf8 else "cp932")
        return FileOut("cvs", "pos", f"cvs_pos_{self.ymd(d)}.csv", data, n, "csv", faults)

    # ---- gms -------------------------------------------------------------------------------------------
    def gms(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, v, ln = dd.day, dd.visits["gms"], dd.lines["gms"]
        n = len(ln.visit)
        member = v.member[ln.visit]
        sec = v.sec[ln.visit]
        rng, faults = self._plan(d, "gms", n, {"bad_gid": member >= 0}, file_fault)
        netsuper_v = (v.member >= 0) & (np.random.default_rng([self.w.seed, 51, d]).random(len(v)) < 0.08)
        net = ln.amount.copy()
        rid_mask = None
        cols: dict[str, pa.Array] = {
            "receipt_no": None,  # type: ignore[dict-item]
            "line_no": pa.array(ln.line_no),
            "store_cd": dict_column(v.store[ln.visit], self.store_ids["gms"]),
            "member_no": self._gid_col(member),
            "sold_at": dict_column(sec, day_dictionary(self.day_epoch(d), TS_ISO_JST)),
            "dept_cd": dict_column(ln.category, self.cat_codes["gms"]),
            "qty": pa.array(ln.qty),
            "net_amount": None,  # type: ignore[dict-item]
            "tax_amount": pa.array(ln.tax),
            "channel": dict_column(netsuper_v[ln.visit].astype(np.int8), pa.array(["store", "netsuper"])),
        }
        for kind, rows in faults.items():
            if kind == "bad_gid":
                cols["member_no"] = replace_rows(cols["member_no"], rows, self._bad_gids(member[rows], rng))
            elif kind == "negative_amount":
                net[rows] = -np.maximum(net[rows], 1)
            elif kind == "future_date":
                cols["sold_at"] = replace_rows(cols["sold_at"], rows, self._future(rng, d, sec[rows], TS_ISO_JST))
            elif kind == "unparseable_time":
                cols["sold_at"] = replace_rows(
                    cols["sold_at"], rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "iso")
                )
            elif kind == "missing_required":
                rid_mask = _mask(n, rows)
        cols["receipt_no"] = pa.array(int(self.ymd(d)) * 10**7 + 1 + ln.visit, mask=rid_mask)
        cols["net_amount"] = pa.array(net)
        data = self._csv(cols, "gms", file_fault, rng, bom=True)
        return FileOut("gms", "sales", f"gms_sales_{self.ymd(d)}.csv", data, n, "csv", faults)

    # ---- dept (JSON Lines, one receipt a line) ---------------------------------------------------------
    def dept(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, v, ln = dd.day, dd.visits["dept"], dd.lines["dept"]
        nv = len(v)
        rng, faults = self._plan(d, "dept", nv, {"bad_gid": v.member >= 0}, file_fault)
        name, email, phone = self.pii()
        has = v.member >= 0
        mm = pa.array(np.maximum(v.member, 0))
        gid = decode(self._gid_col(v.member))
        ts = decode(dict_column(v.sec, day_dictionary(self.day_epoch(d), TS_ISO_JST)))
        total = ln.total.copy()
        notes_all = pa.array(["", *list(cat.DEPT_NOTES)])
        note_idx = np.where(rng.random(nv) < 0.85, 0, rng.integers(1, len(cat.DEPT_NOTES) + 1, nv))
        note = notes_all.take(pa.array(note_idx))
        rid = self._ids(d, nv, '"receipt_id":"DR', suffix='",')
        for kind, rows in faults.items():
            if kind == "bad_gid":
                gid = replace_rows(gid, rows, self._bad_gids(v.member[rows], rng))
            elif kind == "negative_amount":
                total[rows] = -np.maximum(total[rows], 1)
            elif kind == "future_date":
                ts = replace_rows(ts, rows, self._future(rng, d, v.sec[rows], TS_ISO_JST))
            elif kind == "unparseable_time":
                ts = replace_rows(ts, rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "iso"))
            elif kind == "pii_in_free_text":
                pm = np.where(has[rows], v.member[rows], rng.integers(0, self.w.n, len(rows)))
                tmpl = rng.integers(0, len(cat.PII_NOTES), len(rows))
                texts = [
                    cat.PII_NOTES[t].format(phone=p, email=e)
                    for t, p, e in zip(
                        tmpl,
                        phone.take(pa.array(pm)).to_pylist(),
                        email.take(pa.array(pm)).to_pylist(),
                        strict=True,
                    )
                ]
                note = replace_rows(note, rows, pa.array(texts))
            elif kind == "missing_required":
                rid = replace_rows(rid, rows, pa.array([""] * len(rows)))
        customer = concat(
            '{"gid":"',
            gid,
            '","name":"',
            name.take(mm),
            '","phone":"',
            phone.take(mm),
            '","email":"',
            email.take(mm),
            '"}',
        )
        customer = pc.if_else(pa.array(has), customer, "null")
        sku = fixed_digits(rng.integers(0, 10**11, len(ln.visit)), 11, "49")
        items = concat(
            '{"sku":"',
            sku,
            '","category":"',
            self.cat_codes["dept"].take(pa.array(ln.category)),
            '","qty":',
            to_str(ln.qty),
            ',"price_yen":',
            to_str(ln.unit),
            "}",
        )
        pays = pa.array(list(cat.DEPT_PAYMENTS)).take(pa.array(dd.pay["dept"]))
        lines = concat(
            "{",
            rid,
            '"store_id":"',
            decode(dict_column(v.store, self.store_ids["dept"])),
            '","issued_at":"',
            ts,
            '","customer":',
            customer,
            ',"items":',
            json_lists(items, ln.counts),
            ',"total_yen":',
            to_str(total),
            ',"payment":"',
            pays,
            '","note":"',
            note,
            '"}\n',
        )
        return FileOut(
            "dept", "receipts", f"dept_receipts_{self.ymd(d)}.jsonl", lines_bytes(lines), nv, "jsonl", faults
        )

    # ---- diner -----------------------------------------------------------------------------------------
    def diner(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, v, ln = dd.day, dd.visits["diner"], dd.lines["diner"]
        nv = len(v)
        rng, faults = self._plan(d, "diner", nv, {"bad_gid": v.member >= 0}, file_fault)
        total = ln.total.copy()
        rid_mask = None
        cols: dict[str, pa.Array] = {
            "check_id": None,  # type: ignore[dict-item]
            "store_id": dict_column(v.store, self.store_ids["diner"]),
            "gid": self._gid_col(v.member),
            "visited_at": dict_column(v.sec, day_dictionary(self.day_epoch(d), TS_MINUTE)),
            "party_size": pa.array(dd.extra["diner"]),
            "total_yen": None,  # type: ignore[dict-item]
        }
        for kind, rows in faults.items():
            if kind == "bad_gid":
                cols["gid"] = replace_rows(cols["gid"], rows, self._bad_gids(v.member[rows], rng))
            elif kind == "negative_amount":
                total[rows] = -np.maximum(total[rows], 1)
            elif kind == "future_date":
                cols["visited_at"] = replace_rows(
                    cols["visited_at"], rows, self._future(rng, d, v.sec[rows], TS_MINUTE)
                )
            elif kind == "unparseable_time":
                cols["visited_at"] = replace_rows(
                    cols["visited_at"], rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "minute")
                )
            elif kind == "missing_required":
                rid_mask = _mask(nv, rows)
        cols["check_id"] = pa.array(int(self.ymd(d)) * 10**6 + 1 + np.arange(nv), mask=rid_mask)
        cols["total_yen"] = pa.array(total)
        data = self._csv(cols, "diner", file_fault, rng)
        return FileOut("diner", "checks", f"diner_checks_{self.ymd(d)}.csv", data, nv, "csv", faults)

    # ---- sm (Parquet) ----------------------------------------------------------------------------------
    SM_SCHEMA = pa.schema(
        [
            ("receipt_id", pa.string()),
            ("store_code", pa.string()),
            ("local_member_id", pa.string()),
            ("ts", pa.timestamp("us")),
            ("category_code", pa.string()),
            ("quantity", pa.int32()),
            ("amount", pa.int64()),
        ]
    )

    def sm(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        w = self.w
        d, v, ln = dd.day, dd.visits["sm"], dd.lines["sm"]
        n = len(ln.visit)
        rng, faults = self._plan(d, "sm", n, None, file_fault)
        # the receipt's local member: the member's own sm ID, or (anonymous) a non-group local member or none
        lid = np.where(v.member >= 0, w.sm_local[np.maximum(v.member, 0)], -1)
        anon = v.member < 0
        pool = w.sm_other_local
        vr = np.random.default_rng([w.seed, 52, d]).random(len(v))
        lid = np.where(anon & (vr < 0.5), pool[(vr * 2 * len(pool)).astype(np.int64) % len(pool)], lid)
        lid_l = lid[ln.visit]
        ts = (self.day_epoch(d) + v.sec[ln.visit]) * 1_000_000
        amount = ln.amount.copy()
        rid = decode(self._ids(d, len(v), "R"))
        rid_mask = np.zeros(n, dtype=bool)
        for kind, rows in faults.items():
            if kind == "negative_amount":
                amount[rows] = -np.maximum(amount[rows], 1)
            elif kind == "future_date":
                ts[rows] += rng.integers(30, 400, len(rows)) * 86400 * 1_000_000
            elif kind == "missing_required":
                rid_mask[rows] = True
        receipt = rid.take(pa.array(ln.visit))
        if rid_mask.any():
            receipt = pc.if_else(pa.array(rid_mask), pa.scalar(None, pa.string()), receipt)
        local = fixed_digits(np.maximum(lid_l, 0), 9, "SM")
        local = pc.if_else(pa.array(lid_l < 0), pa.scalar(None, pa.string()), local)
        table = pa.table(
            {
                "receipt_id": receipt,
                "store_code": decode(self.store_ids["sm"]).take(pa.array(v.store[ln.visit])),
                "local_member_id": local,
                "ts": pa.array(ts, pa.timestamp("us")),
                "category_code": self.cat_codes["sm"].take(pa.array(ln.category)),
                "quantity": pa.array(ln.qty.astype(np.int32)),
                "amount": pa.array(amount),
            },
            schema=self.SM_SCHEMA,
        )
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        return FileOut("sm", "sales", f"sm_sales_{self.ymd(d)}.parquet", buf.getvalue(), n, "parquet", faults)

    # ---- baby ------------------------------------------------------------------------------------------
    def baby(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, v, ln = dd.day, dd.visits["baby"], dd.lines["baby"]
        n = len(ln.visit)
        member = v.member[ln.visit]
        sec = v.sec[ln.visit]
        rng, faults = self._plan(d, "baby", n, {"bad_gid": member >= 0}, file_fault)
        amount = ln.amount.copy()
        rid = decode(self._ids(d, len(v), "BB", 6)).take(pa.array(ln.visit))
        cols: dict[str, pa.Array] = {
            "receipt_id": rid,
            "line_no": pa.array(ln.line_no),
            "store_id": dict_column(v.store[ln.visit], self.store_ids["baby"]),
            "gid": self._gid_col(member),
            "purchased_at": dict_column(sec, day_dictionary(self.day_epoch(d), TS_ISO_JST)),
            "category": dict_column(ln.category, self.cat_codes["baby"]),
            "qty": pa.array(ln.qty),
            "amount_yen": None,  # type: ignore[dict-item]
        }
        for kind, rows in faults.items():
            if kind == "bad_gid":
                cols["gid"] = replace_rows(cols["gid"], rows, self._bad_gids(member[rows], rng))
            elif kind == "negative_amount":
                amount[rows] = -np.maximum(amount[rows], 1)
            elif kind == "future_date":
                cols["purchased_at"] = replace_rows(
                    cols["purchased_at"], rows, self._future(rng, d, sec[rows], TS_ISO_JST)
                )
            elif kind == "unparseable_time":
                cols["purchased_at"] = replace_rows(
                    cols["purchased_at"], rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "iso")
                )
            elif kind == "missing_required":
                cols["receipt_id"] = replace_rows(cols["receipt_id"], rows, pa.nulls(len(rows), pa.string()))
        cols["amount_yen"] = pa.array(amount)
        data = self._csv(cols, "baby", file_fault, rng)
        return FileOut("baby", "sales", f"baby_sales_{self.ymd(d)}.csv", data, n, "csv", faults)

    # ---- ec (JSON Lines, one order a line) -------------------------------------------------------------
    def ec(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        w = self.w
        d, v, ln = dd.day, dd.visits["ec"], dd.lines["ec"]
        nv = len(v)
        rng, faults = self._plan(d, "ec", nv, None, file_fault)
        member = np.maximum(v.member, 0)
        gid = w.gid_str.take(pa.array(member))
        ts = decode(dict_column(v.sec, day_dictionary(self.day_epoch(d), TS_ISO_Z, shift_sec=-9 * 3600)))
        unit = ln.unit.copy()
        first_line = np.cumsum(ln.counts) - ln.counts
        oid = self._ids(d, nv, '"order_id":"EC', suffix='",')
        for kind, rows in faults.items():
            if kind == "bad_gid":
                gid = replace_rows(gid, rows, self._bad_gids(v.member[rows], rng))
            elif kind == "negative_amount":
                unit[first_line[rows]] = -np.maximum(unit[first_line[rows]], 1)
            elif kind == "future_date":
                ts = replace_rows(ts, rows, self._future(rng, d, v.sec[rows], TS_ISO_Z, shift=-9 * 3600))
            elif kind == "unparseable_time":
                ts = replace_rows(ts, rows, _garbage_times(rng, len(rows), str(w.date(d)), "iso"))
            elif kind == "missing_required":
                oid = replace_rows(oid, rows, pa.array([""] * len(rows)))
        cur = dd.extra["cur_pref"][member]
        pickup = rng.random(nv) < 0.2
        moved = w.move_day[member] <= d
        pos = np.maximum(w.mover_pos[member], 0)
        cvs_store = np.where(moved, w.prim_moved[pos, cat.CI["cvs"]], w.prim[member, cat.CI["cvs"]])
        pick = pc.if_else(pa.array(pickup), json_quote(decode(self.store_ids["cvs"]).take(pa.array(cvs_store))), "null")
        subtotal = np.bincount(ln.visit, weights=ln.amount, minlength=nv)
        shipping = np.where(pickup | (subtotal >= 3980), 0, 550)
        camp_ids = pa.array([c.campaign_id for c in w.campaigns] or [""])
        coupon = (v.kind == KIND_CAMPAIGN) & w.campaign_treat[member]
        coupon_txt = pc.if_else(
            pa.array(coupon), json_quote(camp_ids.take(pa.array(np.maximum(v.campaign, 0)))), "null"
        )
        sku = fixed_digits(rng.integers(0, 10**8, len(ln.visit)), 8, "EC")
        items = concat(
            '{"sku":"',
            sku,
            '","category":"',
            self.cat_codes["ec"].take(pa.array(ln.category)),
            '","qty":',
            to_str(ln.qty),
            ',"unit_price_yen":',
            to_str(unit),
            "}",
        )
        lines = concat(
            "{",
            oid,
            '"gid":"',
            gid,
            '","ordered_at":"',
            ts,
            '","delivery":{"prefecture":"',
            self.pref_names.take(pa.array(cur)),
            '","pickup_store":',
            pick,
            '},"lines":',
            json_lists(items, ln.counts),
            ',"shipping_yen":',
            to_str(shipping),
            ',"coupon_code":',
            coupon_txt,
            "}\n",
        )
        return FileOut("ec", "orders", f"ec_orders_{self.ymd(d)}.jsonl", lines_bytes(lines), nv, "jsonl", faults)

    # ---- app (gzip JSON Lines) -------------------------------------------------------------------------
    def app(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        import gzip

        w = self.w
        d, a = dd.day, dd.app
        n = len(a["member"])
        rng, faults = self._plan(d, "app", n, None, file_fault)
        gid = w.gid_str.take(pa.array(a["member"]))
        ms = (self.day_epoch(d) - 9 * 3600 + a["sec"]) * 1000 + a["ms"]
        occurred = to_str(ms)
        eid = self._ids(d, n, '"event_id":"EV', 8, '",')
        for kind, rows in faults.items():
            if kind == "bad_gid":
                gid = replace_rows(gid, rows, self._bad_gids(a["member"][rows], rng))
            elif kind == "future_date":
                occurred = replace_rows(
                    occurred, rows, to_str(ms[rows] + rng.integers(30, 400, len(rows)) * 86_400_000)
                )
            elif kind == "unparseable_time":
                occurred = replace_rows(occurred, rows, pa.array(['"yesterday"'] * len(rows)))
            elif kind == "missing_required":
                eid = replace_rows(eid, rows, pa.array([""] * len(rows)))
        # the type and the app with the JSON text around them: looked up in their few values, not joined per line
        event_type = concat('","event_type":"', pa.array(list(cat.APP_EVENT_TYPES)), '","occurred_at":')
        app = concat(',"app":"', pa.array(list(APP_NAMES)), '","properties":')
        camp_ids = pa.array([c.campaign_id for c in w.campaigns] or [""])
        has_store = a["store"] >= 0
        gstore = np.zeros(n, dtype=np.int64)
        for c in cat.STORE_COMPANIES:
            sel = a["comp"] == cat.CI[c]
            gstore[sel] = self.all_store_off[c] + np.maximum(a["store"][sel], 0)
        camp = np.maximum(a["camp"], 0)
        t = a["type"]
        screen = np.select([t == 0, t == 4, t == 5, t == 1], [0, 1, 2, 3], 4)
        screens = json_quote(pa.array(list(APP_SCREENS)))
        stores, camps = json_quote(self.all_store_ids), json_quote(camp_ids)

        def store_txt(rows: np.ndarray) -> pa.Array:
            return stores.take(pa.array(gstore[rows]))

        def camp_txt(rows: np.ndarray) -> pa.Array:
            return camps.take(pa.array(camp[rows]))

        def screen_txt(rows: np.ndarray) -> pa.Array:
            return screens.take(pa.array(screen[rows]))

        # the properties object of each event by its shape, each shape built on its own rows only:
        # 0 the screen, 1 a store check-in, 2 a coupon view, 3 a coupon used at a store, 4 one used online
        shape = np.select([t == 3, t == 1, (t == 2) & has_store, t == 2], [1, 2, 3, 4], 0)
        screen_only = concat('{"screen":', screens, "}")  # one per screen
        props = by_group(
            shape,
            [
                lambda rows: screen_only.take(pa.array(screen[rows])),
                lambda rows: concat('{"store_id":', store_txt(rows), "}"),
                lambda rows: concat('{"campaign_id":', camp_txt(rows), ',"screen":', screen_txt(rows), "}"),
                lambda rows: concat('{"campaign_id":', camp_txt(rows), ',"store_id":', store_txt(rows), "}"),
                lambda rows: concat('{"campaign_id":', camp_txt(rows), ',"screen":"cart"}'),
            ],
        )
        lines = concat(
            "{",
            eid,
            '"gid":"',
            gid,
            event_type.take(pa.array(a["type"])),
            occurred,
            app.take(pa.array(a["app"])),
            props,
            "}\n",
        )
        data = gzip.compress(lines_buffer(lines), compresslevel=1, mtime=0)
        return FileOut("app", "events", f"app_events_{self.ymd(d)}.jsonl.gz", data, n, "jsonl", faults)

    # ---- money -----------------------------------------------------------------------------------------
    def money(self, dd: DayData, file_fault: str | None = None) -> FileOut:
        d, m = dd.day, dd.money
        n = len(m["member"])
        rng, faults = self._plan(d, "money", n, {"bad_gid": m["registered"]}, file_fault)
        amount = m["amount"].copy()
        gstore = np.zeros(n, dtype=np.int64)
        for c in cat.STORE_COMPANIES:
            sel = m["company"] == cat.CI[c]
            gstore[sel] = self.all_store_off[c] + m["store"][sel]
        rid_mask = None
        companies = pa.array([*cat.SALES_COMPANIES, "money"])
        cols: dict[str, pa.Array] = {
            "txn_id": None,  # type: ignore[dict-item]
            "card_no": dict_column(m["last4"], self.card_numbers),
            "gid": dict_column(np.maximum(m["member"], 0), self.w.gid_str, null_mask=~m["registered"]),
            "kind": dict_column(m["kind"], pa.array(["charge", "payment"])),
            "company": dict_column(m["company"], companies),
            "store_id": dict_column(gstore, self.all_store_ids, null_mask=m["store"] < 0),
            "occurred_at": dict_column(m["sec"], day_dictionary(self.day_epoch(d), TS_ISO_JST)),
            "amount_yen": None,  # type: ignore[dict-item]
        }
        for kind, rows in faults.items():
            if kind == "bad_gid":
                cols["gid"] = replace_rows(cols["gid"], rows, self._bad_gids(m["member"][rows], rng))
            elif kind == "negative_amount":
                amount[rows] = -np.maximum(amount[rows], 1)
            elif kind == "future_date":
                cols["occurred_at"] = replace_rows(
                    cols["occurred_at"], rows, self._future(rng, d, m["sec"][rows], TS_ISO_JST)
                )
            elif kind == "unparseable_time":
                cols["occurred_at"] = replace_rows(
                    cols["occurred_at"], rows, _garbage_times(rng, len(rows), str(self.w.date(d)), "iso")
                )
            elif kind == "missing_required":
                rid_mask = _mask(n, rows)
        cols["txn_id"] = decode(self._ids(d, n, "MN", 8))
        if rid_mask is not None:
            cols["txn_id"] = pc.if_else(pa.array(rid_mask), pa.scalar(None, pa.string()), cols["txn_id"])
        cols["amount_yen"] = pa.array(amount)
        data = self._csv(cols, "money", file_fault, rng)
        return FileOut("money", "txns", f"money_txns_{self.ymd(d)}.csv", data, n, "csv", faults)
