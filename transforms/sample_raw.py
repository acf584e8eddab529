"""A tiny raw zone that follows the ingestion contracts, for tests and smoke runs of the transforms.

It plants what the transforms must handle: a receipt re-sent in a later batch, duplicated lines
and events, gms amounts without tax, an sm member without a link, unregistered e-money cards, and
PII in every place it can hide (customer columns, a staff note, a campaign description).
"""

from __future__ import annotations

import datetime as dt
import io
import os

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.storage import Lake

UTC = dt.UTC
PLANTED_EMAIL = "taro.yamada@example.com"
PLANTED_PHONE = "090-1234-5678"
GIDS = ["100000000008", "200000000006", "300000000004"]  # valid Luhn check digits


def _ts(day: str, hh: int, mm: int = 0) -> dt.datetime:
    """A JST wall-clock time of `day` as a UTC instant (raw timestamps are UTC)."""
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=dt.timezone(dt.timedelta(hours=9))).astimezone(UTC)


def write_part(lake: Lake, company: str, feed: str, key: str, value: str, batch: str, rows: list[dict],
               landed_at: dt.datetime | None = None) -> None:
    """One raw file as ingestion writes it: contract columns plus `_line` and `_batch_id`."""
    table = pa.Table.from_pylist([{"_line": i + 1, **r, "_batch_id": batch} for i, r in enumerate(rows)])
    buf = io.BytesIO()
    pq.write_table(table, buf)
    rel = layout.raw_file(feed, key, value, batch)
    lake.write_bytes(layout.raw(company), rel, buf.getvalue())
    if landed_at is not None and not lake.is_s3:  # order batches deterministically in local tests
        os.utime(lake.path(layout.raw(company), rel), (landed_at.timestamp(), landed_at.timestamp()))


def _masters(lake: Lake, company: str, cats: list[tuple[str, str]]) -> None:
    write_part(lake, company, "stores", "snapshot", f"{company}-stores-1", f"{company}-stores-1", [
        {"company": company, "store_id": f"{company.upper()}01", "name": f"{company} 東京駅前店",
         "prefecture": "東京都", "city": "千代田区", "lat": 35.68, "lon": 139.76, "format": company,
         "opened_on": dt.date(2001, 4, 1)}])
    write_part(lake, company, "categories", "snapshot", f"{company}-categories-1", f"{company}-categories-1",
               [{"company": company, "code": code, "name": code, "group_category": g} for code, g in cats])


def build(lake: Lake, day: str = "2026-08-01") -> None:
    """Write the sample raw zone for one JST `day` (and the masters) into `lake`."""
    early = dt.datetime(2026, 8, 2, tzinfo=UTC)
    late = early + dt.timedelta(hours=1)
    g1, g2, g3 = GIDS
    # cvs: receipt T1 sent twice; the later batch (corrected amount) wins. T2 is anonymous.
    cvs_line = {"store_id": "CVS01", "payment_method": "cash", "quantity": 1}
    write_part(lake, "cvs", "pos", "date", day, "cvs-pos-a", [
        {"transaction_id": "T1", "gid": g1, "purchased_at": _ts(day, 0, 5), "category_code": "C1",
         "amount_yen": 100, **cvs_line},
        {"transaction_id": "T1", "gid": g1, "purchased_at": _ts(day, 0, 5), "category_code": "C2",
         "amount_yen": 200, **cvs_line},
        {"transaction_id": "T2", "gid": None, "purchased_at": _ts(day, 23, 50), "category_code": "C9",
         "amount_yen": 50, **cvs_line},
    ], early)
    write_part(lake, "cvs", "pos", "date", day, "cvs-pos-b", [
        {"transaction_id": "T1", "gid": g1, "purchased_at": _ts(day, 0, 5), "category_code": "C1",
         "amount_yen": 110, **cvs_line},
        {"transaction_id": "T1", "gid": g1, "purchased_at": _ts(day, 0, 5), "category_code": "C2",
         "amount_yen": 200, **cvs_line},
    ], late)
    _masters(lake, "cvs", [("C1", "ready_meals"), ("C2", "beverages")])
    # gms: tax excluded; line 2 of G1 duplicated in the file.
    gms = {"store_id": "GMS01", "gid": g2, "sold_at": _ts(day, 10), "channel": "store"}
    write_part(lake, "gms", "sales", "date", day, "gms-sales-a", [
        {"receipt_no": "G1", "line_no": 1, "dept_code": "D01", "quantity": 2, "net_amount_yen": 1000,
         "tax_amount_yen": 80, **gms},
        {"receipt_no": "G1", "line_no": 2, "dept_code": "D02", "quantity": 1, "net_amount_yen": 500,
         "tax_amount_yen": 40, **gms},
        {"receipt_no": "G1", "line_no": 2, "dept_code": "D02", "quantity": 1, "net_amount_yen": 500,
         "tax_amount_yen": 40, **gms},
    ])
    _masters(lake, "gms", [("D01", "fresh_food"), ("D02", "daily_goods")])
    # dept: customer PII and a staff note with PII; items not shared.
    write_part(lake, "dept", "receipts", "date", day, "dept-receipts-a", [
        {"receipt_id": "DR1", "store_id": "DEPT01", "issued_at": _ts(day, 14), "gid": g3,
         "customer_name": "山田 太郎", "customer_phone": PLANTED_PHONE, "customer_email": PLANTED_EMAIL,
         "items": [{"sku": "1", "category": "DP10", "qty": 2, "price_yen": 5000}], "total_yen": 10000,
         "payment_method": "card", "note": f"配送先 {PLANTED_PHONE} {PLANTED_EMAIL}"}])
    _masters(lake, "dept", [("DP10", "apparel")])
    write_part(lake, "diner", "checks", "date", day, "diner-checks-a", [
        {"check_id": "K1", "store_id": "DINER01", "gid": g1, "visited_at": _ts(day, 12), "party_size": 3,
         "total_yen": 3300}])
    _masters(lake, "diner", [("M01", "restaurant")])
    # sm: SM000000001 is linked to g2, SM000000002 is not.
    sm = {"store_id": "SM01", "sold_at": _ts(day, 9), "quantity": 1}
    write_part(lake, "sm", "sales", "date", day, "sm-sales-a", [
        {"receipt_id": "S1", "local_member_id": "SM000000001", "category_code": "S01", "amount_yen": 300, **sm},
        {"receipt_id": "S2", "local_member_id": "SM000000002", "category_code": "S01", "amount_yen": 400, **sm},
    ])
    write_part(lake, "sm", "id_links", "snapshot", "sm-id_links-1", "sm-id_links-1", [
        {"local_member_id": "SM000000001", "gid": g2, "linked_at": _ts("2026-01-01", 9)}])
    _masters(lake, "sm", [("S01", "fresh_food")])
    write_part(lake, "baby", "sales", "date", day, "baby-sales-a", [
        {"receipt_id": "B1", "line_no": 1, "store_id": "BABY01", "gid": g3, "purchased_at": _ts(day, 11),
         "category": "diapers", "quantity": 1, "amount_yen": 1500}])
    _masters(lake, "baby", [("diapers", "baby")])
    write_part(lake, "ec", "orders", "date", day, "ec-orders-a", [
        {"order_id": "E1", "gid": g2, "ordered_at": _ts(day, 20), "delivery_prefecture": "東京都",
         "pickup_store_id": "CVS01",
         "lines": [{"sku": "x", "category": "ec_food", "qty": 2, "unit_price_yen": 300},
                   {"sku": "y", "category": "ec_drink", "qty": 1, "unit_price_yen": 150}],
         "shipping_yen": 200, "coupon_code": "CP1"}])
    _masters(lake, "ec", [("ec_food", "fresh_food"), ("ec_drink", "beverages")])
    write_part(lake, "app", "events", "date", day, "app-events-a", [
        {"event_id": "EV1", "gid": g1, "event_type": "coupon_view", "occurred_at": _ts(day, 8), "app": "cvs",
         "campaign_id": "CP1", "store_id": None, "screen": "home"},
        {"event_id": "EV1", "gid": g1, "event_type": "coupon_view", "occurred_at": _ts(day, 8), "app": "cvs",
         "campaign_id": "CP1", "store_id": None, "screen": "home"},
        {"event_id": "EV2", "gid": None, "event_type": "app_open", "occurred_at": _ts(day, 9), "app": "group",
         "campaign_id": None, "store_id": None, "screen": None}])
    money = {"card_no": "****-****-****-1234", "store_id": "CVS01", "occurred_at": _ts(day, 7)}
    write_part(lake, "money", "txns", "date", day, "money-txns-a", [
        {"txn_id": "M1", "gid": g1, "kind": "charge", "merchant_company": None, "amount_yen": 5000, **money},
        {"txn_id": "M2", "gid": g1, "kind": "payment", "merchant_company": "cvs", "amount_yen": 310, **money},
        {"txn_id": "M2", "gid": g1, "kind": "payment", "merchant_company": "cvs", "amount_yen": 310, **money},
        {"txn_id": "M3", "gid": None, "kind": "payment", "merchant_company": "gms", "amount_yen": 700, **money}])
    write_part(lake, "hq", "members", "snapshot", "hq-members-1", "hq-members-1", [
        {"gid": g, "name": "山田 太郎", "email": PLANTED_EMAIL, "phone": PLANTED_PHONE, "postal_code": "123-4567",
         "prefecture": "東京都", "birth_date": dt.date(1980, 5, 17), "gender": "F", "joined_on": dt.date(2020, 1, 1),
         "marketing_consent": i != 1, "programme_joined_on": dt.date(2021, 4, 1) if i == 0 else None}
        for i, g in enumerate(GIDS)])
    write_part(lake, "hq", "campaigns", "snapshot", "hq-campaigns-1", "hq-campaigns-1", [
        {"campaign_id": "CP1", "company": "ec", "target_company": "cvs",
         "description": f"contact {PLANTED_EMAIL} for details", "starts_on": dt.date(2026, 7, 1),
         "ends_on": dt.date(2026, 8, 31)}])
    write_part(lake, "hq", "campaign_assignments", "snapshot", "hq-campaign_assignments-1",
               "hq-campaign_assignments-1", [{"campaign_id": "CP1", "gid": g1, "assigned_group": "treatment"},
                                             {"campaign_id": "CP1", "gid": g2, "assigned_group": "control"}])
