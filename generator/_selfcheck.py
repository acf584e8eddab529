"""Self-checks of the generator: ``python -m generator._selfcheck [--timing]``; tests/unit/test_generator_selfcheck.py
runs them (without --timing) in every `make test`.

Checks determinism, every file format of DESIGN section 3, gid check digits, referential integrity of
store ids and campaign ids, and that every planted bad record in the truth is really in the file."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import sys
import time

import pyarrow.parquet as pq

from . import catalog as cat
from .gid import luhn_ok
from .sample import GeneratorConfig, cvs_pos_file, generate
from .sink import MemorySink, NullSink
from .writers import DayWriter

HEADERS = {
    "cvs/pos": "取引ID,店舗コード,会員ID,取引日時,商品カテゴリ,数量,金額(税込),支払方法",
    "gms/sales": "receipt_no,line_no,store_cd,member_no,sold_at,dept_cd,qty,net_amount,tax_amount,channel",
    "diner/checks": "check_id,store_id,gid,visited_at,party_size,total_yen",
    "baby/sales": "receipt_id,line_no,store_id,gid,purchased_at,category,qty,amount_yen",
    "money/txns": "txn_id,card_no,gid,kind,company,store_id,occurred_at,amount_yen",
    "sm/id_links": "local_member_id,gid,linked_at",
    "hq/members": "gid,name,email,phone,postal_code,prefecture,birth_date,gender,joined_on,marketing_consent,"
    "programme_joined_on",
    "hq/campaigns": "campaign_id,company,target_company,description,starts_on,ends_on",
    "hq/campaign_assignments": "campaign_id,gid,assigned_group",
    "stores": "company,store_id,name,prefecture,city,lat,lon,format,opened_on",
    "categories": "company,code,name,group_category",
}
RE = {
    "cvs_ts": re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$"),
    "iso_jst": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$"),
    "iso_z": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"),
    "minute": re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"),
    "card": re.compile(r"^\*{4}-\*{4}-\*{4}-\d{4}$"),
    "postal": re.compile(r"^\d{3}-\d{4}$"),
    "sm_local": re.compile(r"^SM\d{9}$"),
}
FOOD = {c.code for c in cat.CATEGORIES["gms"] if c.food}


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise AssertionError(msg)


def _rows(data: bytes, encoding: str = "utf-8", bom: bool = False) -> tuple[str, list[list[str]]]:
    if bom:
        _check(data.startswith(b"\xef\xbb\xbf"), "BOM missing")
        data = data[3:]
    else:
        _check(not data.startswith(b"\xef\xbb\xbf"), "unexpected BOM")
    text = data.decode(encoding)
    _check(text.endswith("\n"), "file does not end with a newline")
    lines = text.split("\n")[:-1]
    return lines[0], list(csv.reader(lines[1:]))


def _ts_ok(value: str, pattern: str, day: dt.date) -> bool:
    if not RE[pattern].match(value):
        return False
    return value[:10].replace("/", "-") == day.isoformat()


def check_files(files: dict[tuple[str, str], bytes], clean: bool) -> dict[str, int]:
    """Validate every landing file; with ``clean`` every row must be valid. Returns rows per feed."""
    truth = json.loads(files[("ops", "generator/truth.json")])
    camp_ids = {c["campaign_id"] for c in truth["campaigns"]}
    faulty = {f["file"] for f in truth["bad_records"]["file_faults"]}
    stores: dict[str, set[str]] = {}
    for (zone, path), data in files.items():
        if path == "stores/stores.csv":
            header, rows = _rows(data)
            _check(header == HEADERS["stores"], f"{zone} stores header")
            ids = [r[1] for r in rows]
            _check(len(ids) == len(set(ids)), f"{zone} duplicate store ids")
            for r in rows:
                _check(len(r) == 9 and 20 < float(r[5]) < 47 and 122 < float(r[6]) < 150, f"{zone} store {r}")
            stores[zone.removeprefix("landing-")] = set(ids)
        elif path == "categories/categories.csv":
            header, rows = _rows(data)
            _check(header == HEADERS["categories"], f"{zone} categories header")
            _check(all(r[3] in cat.GROUP_TAXONOMY for r in rows), f"{zone} taxonomy")
    counts: dict[str, int] = {}
    for (zone, path), data in sorted(files.items()):
        company = zone.removeprefix("landing-")
        feed, _, name = path.partition("/")
        if zone == "ops" or feed in ("stores", "categories") or name in faulty:
            continue
        key = f"{company}/{feed}"
        day = (
            dt.datetime.strptime(re.findall(r"\d{8}", name)[0], "%Y%m%d").date() if re.search(r"\d{8}", name) else None
        )
        n = 0
        if key == "cvs/pos":
            header, rows = _rows(data, "cp932")
            _check(header == HEADERS[key], "cvs header")
            for r in rows:
                _check(len(r) == 8, f"cvs row {r}")
                if clean:
                    _check(r[0].isdigit() and r[1] in stores.get("cvs", {r[1]}), f"cvs ids {r}")
                    _check(r[2] == "" or luhn_ok(r[2]), f"cvs gid {r}")
                    _check(_ts_ok(r[3], "cvs_ts", day), f"cvs time {r}")
                    _check(int(r[6]) > 0 and int(r[5]) > 0, f"cvs amount {r}")
                _check(r[7] in cat.CVS_PAYMENTS, f"cvs payment {r}")
            n = len(rows)
        elif key == "gms/sales":
            header, rows = _rows(data, bom=True)
            _check(header == HEADERS[key], "gms header")
            for r in rows:
                _check(len(r) == 10 and r[9] in ("store", "netsuper"), f"gms row {r}")
                if clean:
                    _check(r[3] == "" or luhn_ok(r[3]), f"gms gid {r}")
                    _check(_ts_ok(r[4], "iso_jst", day), f"gms time {r}")
                    rate = 0.08 if r[5] in FOOD else 0.10
                    _check(int(r[8]) == int(int(r[7]) * rate), f"gms tax {r}")
            n = len(rows)
        elif key in ("diner/checks", "baby/sales", "money/txns"):
            header, rows = _rows(data)
            _check(header == HEADERS[key], f"{key} header")
            width = len(HEADERS[key].split(","))
            for r in rows:
                _check(len(r) == width, f"{key} row {r}")
                if not clean:
                    continue
                if key == "diner/checks":
                    _check((r[2] == "" or luhn_ok(r[2])) and _ts_ok(r[3], "minute", day), f"diner {r}")
                    _check(r[1] in stores["diner"] and int(r[5]) > 0, f"diner {r}")
                elif key == "baby/sales":
                    _check((r[3] == "" or luhn_ok(r[3])) and _ts_ok(r[4], "iso_jst", day), f"baby {r}")
                    _check(r[5] in cat.BABY_CATEGORIES and r[2] in stores["baby"], f"baby {r}")
                else:
                    _check(RE["card"].match(r[1]) is not None and r[3] in ("charge", "payment"), f"money {r}")
                    _check((r[2] == "" or luhn_ok(r[2])) and _ts_ok(r[6], "iso_jst", day), f"money {r}")
                    own = r[4] == "money" and r[3] == "charge" and r[5] == ""
                    _check((own or r[5] in stores[r[4]]) and int(r[7]) > 0, f"money {r}")
            n = len(rows)
        elif key == "dept/receipts":
            for line in data.decode("utf-8").splitlines():
                o = json.loads(line)
                if clean:
                    _check(
                        list(o)
                        == [
                            "receipt_id",
                            "store_id",
                            "issued_at",
                            "customer",
                            "items",
                            "total_yen",
                            "payment",
                            "note",
                        ],
                        f"dept keys {list(o)}",
                    )
                    _check(_ts_ok(o["issued_at"], "iso_jst", day), "dept time")
                    _check(
                        o["customer"] is None
                        or (list(o["customer"]) == ["gid", "name", "phone", "email"] and luhn_ok(o["customer"]["gid"])),
                        "dept customer",
                    )
                    _check(o["total_yen"] == sum(i["qty"] * i["price_yen"] for i in o["items"]), "dept total")
                    _check("@" not in o["note"] and not re.search(r"\d{3}-\d{4}-\d{4}", o["note"]), "dept pii")
                _check(o["payment"] in cat.DEPT_PAYMENTS, "dept payment")
                n += 1
        elif key == "ec/orders":
            for line in data.decode("utf-8").splitlines():
                o = json.loads(line)
                if clean:
                    _check(
                        list(o)
                        == [
                            "order_id",
                            "gid",
                            "ordered_at",
                            "delivery",
                            "lines",
                            "shipping_yen",
                            "coupon_code",
                        ],
                        f"ec keys {list(o)}",
                    )
                    _check(luhn_ok(o["gid"]) and RE["iso_z"].match(o["ordered_at"]) is not None, "ec gid/time")
                    _check(o["coupon_code"] is None or o["coupon_code"] in camp_ids, "ec coupon")
                    ps = o["delivery"]["pickup_store"]
                    _check(ps is None or ps in stores["cvs"], "ec pickup store")
                    _check(all(x["unit_price_yen"] > 0 for x in o["lines"]), "ec price")
                n += 1
        elif key == "app/events":
            text = gzip.decompress(data).decode("utf-8")
            for line in text.splitlines():
                o = json.loads(line)
                if clean:
                    _check(
                        list(o) == ["event_id", "gid", "event_type", "occurred_at", "app", "properties"],
                        f"app keys {list(o)}",
                    )
                    _check(luhn_ok(o["gid"]) and isinstance(o["occurred_at"], int), "app gid/time")
                    t = dt.datetime.fromtimestamp(o["occurred_at"] / 1000, dt.timezone(dt.timedelta(hours=9)))
                    _check(t.date() == day, "app day")
                _check(o["event_type"] in cat.APP_EVENT_TYPES, "app type")
                _check(o["app"] == "group" or o["app"] in cat.SALES_COMPANIES, "app app")
                p = o["properties"]
                _check("campaign_id" not in p or p["campaign_id"] in camp_ids, "app campaign")
                n += 1
        elif key == "sm/sales":
            table = pq.read_table(io.BytesIO(data))
            _check(table.schema.remove_metadata() == DayWriter.SM_SCHEMA, f"sm schema {table.schema}")
            if clean:
                lid = [x for x in table.column("local_member_id").to_pylist() if x is not None]
                _check(all(RE["sm_local"].match(x) for x in lid), "sm local ids")
                _check(table.column("receipt_id").null_count == 0, "sm receipt ids")
            n = table.num_rows
        elif key == "sm/id_links":
            header, rows = _rows(data)
            _check(header == HEADERS[key], "links header")
            _check(all(RE["sm_local"].match(r[0]) and luhn_ok(r[1]) for r in rows), "links rows")
            n = len(rows)
        elif key == "hq/members":
            header, rows = _rows(data)
            _check(header == HEADERS[key], "members header")
            for r in rows:
                _check(len(r) == 11 and luhn_ok(r[0]) and RE["postal"].match(r[4]) is not None, f"member {r}")
                _check(r[7] in ("F", "M", "X", "") and r[9] in ("true", "false"), f"member {r}")
                _check(r[10] == "" or r[10] >= r[8], f"member programme before joining {r}")
            n = len(rows)
        elif key in ("hq/campaigns", "hq/campaign_assignments"):
            header, rows = _rows(data)
            _check(header == HEADERS[key], f"{key} header")
            if key == "hq/campaign_assignments":
                _check(
                    all(r[0] in camp_ids and luhn_ok(r[1]) and r[2] in ("treatment", "control") for r in rows),
                    "assignments",
                )
            n = len(rows)
        else:
            raise AssertionError(f"unexpected file {zone}/{path}")
        counts[key] = counts.get(key, 0) + n
    return counts


def _parses(v: str) -> bool:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            dt.datetime.strptime(v, fmt)
            return True
        except ValueError:
            pass
    return False


def _file_day(name: str) -> dt.date:
    return dt.datetime.strptime(re.findall(r"\d{8}", name)[0], "%Y%m%d").date()


def _future(value: object, day: dt.date) -> bool:
    """True if a time value (text, epoch ms or datetime) is at least 30 days after ``day``."""
    limit = day + dt.timedelta(days=30)
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC).date() >= limit - dt.timedelta(days=1)
    if isinstance(value, dt.datetime):
        return value.date() >= limit
    return str(value)[:10].replace("/", "-") >= limit.isoformat()


def _csv_fault(kind: str, v: str, day: dt.date) -> bool:
    if kind == "bad_gid":
        return len(v) == 12 and v.isdigit() and not luhn_ok(v)
    if kind == "negative_amount":
        return int(v) < 0
    if kind == "future_date":
        return _parses(v) and _future(v, day)
    if kind == "unparseable_time":
        return not _parses(v)
    return kind == "missing_required" and v == ""


def _json_fault(kind: str, o: dict, day: dt.date) -> bool:
    when = o.get("issued_at", o.get("ordered_at", o.get("occurred_at")))
    if kind == "bad_gid":
        return not luhn_ok((o.get("customer") or o)["gid"])
    if kind == "negative_amount":
        return o.get("total_yen", 0) < 0 or ("lines" in o and o["lines"][0]["unit_price_yen"] < 0)
    if kind == "future_date":
        return _future(when, day)
    if kind == "unparseable_time":
        return isinstance(when, str) and not _parses(when)
    if kind == "pii_in_free_text":
        return "@" in o["note"] or re.search(r"\d{3}-\d{4}-\d{4}", o["note"]) is not None
    return kind == "missing_required" and not ({"receipt_id", "order_id", "event_id"} & set(o))


def check_faults(files: dict[tuple[str, str], bytes]) -> int:
    """Every planted row fault is where the truth says; every file fault shows. Returns faults checked."""
    truth = json.loads(files[("ops", "generator/truth.json")])
    bad = pq.read_table(io.BytesIO(files[("ops", "generator/bad_rows.parquet")])).to_pylist()
    cache: dict[str, list] = {}
    where = {f[1].split("/")[-1]: f for f in files}
    for rec in bad:
        zone, path = where[rec["file"]]
        day = _file_day(rec["file"])
        if rec["file"] not in cache:
            data = files[(zone, path)]
            if rec["line_basis"] == "csv":
                enc = "cp932" if rec["company"] == "cvs" else "utf-8-sig"
                cache[rec["file"]] = data.decode(enc).split("\n")
            elif rec["line_basis"] == "jsonl":
                raw = gzip.decompress(data) if path.endswith(".gz") else data
                cache[rec["file"]] = ["", *raw.decode("utf-8").split("\n")]
            else:
                cache[rec["file"]] = pq.read_table(io.BytesIO(data)).to_pylist()
        rows = cache[rec["file"]]
        kind = rec["kind"]
        if rec["line_basis"] == "csv":
            hdr = next(csv.reader([rows[0]]))
            r = next(csv.reader([rows[rec["line"] - 1]]))
            ok = _csv_fault(kind, r[hdr.index(rec["field"].split(" ")[0])], day)
        elif rec["line_basis"] == "jsonl":
            ok = _json_fault(kind, json.loads(rows[rec["line"]]), day)
        else:
            r = rows[rec["line"]]
            ok = {
                "negative_amount": r["amount"] < 0,
                "missing_required": r["receipt_id"] is None,
                "future_date": _future(r["ts"], day),
            }[kind]
        _check(ok, f"fault not found: {rec}")
    for ff in truth["bad_records"]["file_faults"]:
        zone, path = where[ff["file"]]
        data = files[(zone, path)]
        if ff["kind"] == "wrong_encoding":
            _check(data.decode("utf-8").startswith("取引ID"), "wrong encoding file is not utf-8")
        elif ff["kind"] == "truncated_file":
            if path.endswith(".gz"):
                try:
                    gzip.decompress(data)
                    raise AssertionError("truncated gzip decompressed")
                except EOFError:
                    pass
            else:
                _check(not data.endswith(b"\n"), "truncated csv ends with a newline")
        elif ff["kind"] == "duplicate_file":
            orig = where[ff["duplicate_of"]]
            _check(files[orig] == data, "duplicate differs")
        elif ff["kind"] == "missing_columns":
            _check(ff["missing_column"] not in data.split(b"\n", 1)[0].decode(), "column not missing")
        elif ff["kind"] == "extra_columns":
            _check(data.split(b"\n", 1)[0].decode().endswith("," + ff["extra_column"]), "no extra column")
    return len(bad)


def main(argv: list[str]) -> int:
    cfg = GeneratorConfig(members=3000, days=8, seed=7)
    a, b = MemorySink(), MemorySink()
    s1 = generate(cfg, a)
    generate(cfg, b, workers=1)
    _check(a.files.keys() == b.files.keys(), "file sets differ between runs")
    diff = [k for k in a.files if a.files[k] != b.files[k]]
    _check(not diff, f"non-deterministic files: {diff[:5]}")
    c = MemorySink()
    generate(GeneratorConfig(members=3000, days=8, seed=8), c)
    _check(
        a.files[("landing-cvs", "pos/cvs_pos_20260801.csv")] != c.files[("landing-cvs", "pos/cvs_pos_20260801.csv")],
        "seed has no effect",
    )
    print(f"determinism ok: {len(a.files)} files, {s1['purchase_lines']} purchase lines")
    counts = check_files(a.files, clean=True)
    print("clean formats ok:", counts)
    bad = MemorySink()
    generate(GeneratorConfig(members=3000, days=8, seed=7, bad_rate=0.02), bad)
    check_files(bad.files, clean=False)
    n = check_faults(bad.files)
    truth = json.loads(bad.files[("ops", "generator/truth.json")])
    kinds = [f["kind"] for f in truth["bad_records"]["file_faults"]]
    print(f"bad records ok: {n} row faults, file faults {kinds}")
    conf = MemorySink()
    generate(GeneratorConfig(members=3000, days=8, seed=7, mode="confounding"), conf)
    counts = check_files(conf.files, clean=True)
    first_cvs = ("landing-cvs", "pos/cvs_pos_20260801.csv")
    _check(conf.files[first_cvs] != a.files[first_cvs], "mode has no effect")
    print("confounding mode formats ok:", counts)
    sub = MemorySink()
    generate(GeneratorConfig(members=3000, days=8, seed=7, companies=("cvs", "hq")), sub)
    _check(all(a.files[k] == v for k, v in sub.files.items() if k[0] != "ops"), "subset changes files")
    print("company subset ok:", sorted({z for z, _ in sub.files}))
    if "--timing" in argv:
        t = time.perf_counter()
        s = generate(GeneratorConfig(), NullSink())
        print(
            f"default config: {time.perf_counter() - t:.1f} s, {s['purchase_lines']:,} purchase lines, "
            f"{s['bytes'] / 1e6:.0f} MB in {s['files']} files"
        )
        t = time.perf_counter()
        data = cvs_pos_file(10_000_000, dt.date(2026, 8, 1))
        print(
            f"cvs_pos_file(10M): {time.perf_counter() - t:.1f} s, {len(data) / 1e6:.0f} MB, "
            f"sha256 {hashlib.sha256(data).hexdigest()[:12]}"
        )
    print("all self-checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["check_faults", "check_files", "main"]
