"""``lake generate``: write every landing extract and master of DESIGN section 3, plus the planted truth."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import catalog as cat
from . import masters, places
from .day import KIND_PROGRAMME, DayData, DaySimulator, Visits, _times
from .geo import PREF_NAMES
from .sink import Sink
from .world import (
    COMMUTER_WEEKDAY_WORK_SHARE,
    DAYS_PER_MONTH,
    MODES,
    NEVER,
    PROGRAMME_EXTRA_MEAN_YEN,
    REFERRAL_WINDOW_DAYS,
    SEGMENT_EMONEY,
    SEGMENT_NAMES,
    SEGMENT_PROGRAMME,
    World,
)
from .writers import EXTRA_COLUMN, FAULT_FIELDS, LINE_BASIS, MISSING_COLUMN, DayWriter, FileOut

Progress = Callable[[str, int, int], None]
NEAR_HOME_KM = 5.0  # a store this close to the member's home is in the home area (truth of what moves can show)
TRUTH_ZONE = "ops"
TRUTH_DIR = "generator"
FAULT_TABLE_SCHEMA = (
    ("company", pa.string()),
    ("feed", pa.string()),
    ("file", pa.string()),
    ("line", pa.int64()),
    ("line_basis", pa.string()),
    ("kind", pa.string()),
    ("field", pa.string()),
)
COLUMN_FAULTS = ("wrong_encoding", "missing_columns", "extra_columns")
# file-level faults planted when bad_rate > 0: (kind, company), each on its own day where possible
FILE_FAULT_PLAN: tuple[tuple[str, str], ...] = (
    ("wrong_encoding", "cvs"),
    ("truncated_file", "gms"),
    ("truncated_file", "app"),
    ("missing_columns", "baby"),
    ("extra_columns", "money"),
    ("duplicate_file", "cvs"),
)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The output is a pure function of this config."""

    members: int = 200_000  # group members (gids)
    days: int = 90
    start: dt.date = dt.date(2026, 8, 1)
    seed: int = 42
    bad_rate: float = 0.0  # fraction of bad records of each kind (0 = clean)
    companies: tuple[str, ...] | None = None  # subset of catalog.ALL_COMPANIES, None = all
    mode: str = "default"  # "default", or "confounding": what fools naive analytics (world.Behaviour)

    def validate(self) -> None:
        if self.members < 1:
            raise ValueError(f"members must be at least 1, got {self.members}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not 0.0 <= self.bad_rate < 0.2:
            raise ValueError(f"bad_rate must be in [0, 0.2), got {self.bad_rate}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.companies is not None:
            unknown = sorted(set(self.companies) - set(cat.ALL_COMPANIES))
            if unknown:
                raise ValueError(f"unknown companies {unknown}; choose from {', '.join(cat.ALL_COMPANIES)}")

    def selected(self) -> tuple[str, ...]:
        if self.companies is None:
            return cat.ALL_COMPANIES
        return tuple(c for c in cat.ALL_COMPANIES if c in self.companies)


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _date_col(epoch_days: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    d = np.asarray(epoch_days, dtype=np.int64)
    if null_mask is not None:
        d = np.where(null_mask, 0, d)
    return pa.array(d.astype(np.int32), pa.date32(), mask=null_mask)


def plan_file_faults(cfg: GeneratorConfig) -> dict[tuple[int, str], str]:
    """(day index, company) -> file-level fault kind; empty when bad_rate is 0."""
    if cfg.bad_rate <= 0:
        return {}
    rng = np.random.default_rng([cfg.seed, 70])
    days = rng.permutation(cfg.days)
    plan: dict[tuple[int, str], str] = {}
    for i, (kind, company) in enumerate(FILE_FAULT_PLAN):
        d = int(days[i % cfg.days])
        if (d, company) in plan:  # tiny windows: keep one fault per file
            continue
        plan[(d, company)] = kind
    return plan


class _Run:
    """State of one generate() call."""

    def __init__(self, cfg: GeneratorConfig, sink: Sink, progress: Progress | None) -> None:
        self.cfg = cfg
        self.sink = sink
        self.progress = progress or (lambda label, done, total: None)
        self.selected = cfg.selected()
        self.files: list[dict] = []
        self.rows: dict[str, dict[str, int]] = {}
        self.fault_rows: list[tuple[dict[str, str], np.ndarray]] = []  # (labels of a file and kind, its lines)
        self.fault_counts: list[dict] = []
        self.file_faults: list[dict] = []
        self.receipts = {c: {"receipts": 0, "lines": 0, "anonymous_receipts": 0} for c in cat.SALES_COMPANIES}
        self.extra_visits = 0
        self.extra_spend = 0
        self.enrolled_days = 0
        self.emoney_only_days = 0

    def track(self, world: World) -> None:
        """Per-member running totals the truth needs (what the analytics should recover, counted at the source)."""
        n, nc, k = world.n, len(cat.SALES_COMPANIES), len(world.movers)
        self.visits_m = np.zeros(n)
        self.spend_m = np.zeros(n)
        self.extra_visits_m = np.zeros(n)
        self.extra_spend_m = np.zeros(n)
        self.first_normal = np.full((n, nc), NEVER, dtype=np.int64)  # first ordinary visit per brand
        self.first_any = np.full((n, nc), NEVER, dtype=np.int64)  # first visit of any kind per brand
        self.mover_days = np.zeros((max(k, 1), world.days), dtype=bool)  # movers' days with a store visit
        self.mover_home_days = np.zeros((max(k, 1), world.days), dtype=bool)  # ... with one near the home of the day

    def record_file(self, company: str, feed: str, name: str, size: int, rows: int) -> None:
        zone = f"landing-{company}"
        path = f"{feed}/{name}"
        self.files.append({"zone": zone, "path": path, "company": company, "feed": feed, "rows": rows, "bytes": size})
        self.rows.setdefault(company, {}).setdefault(feed, 0)
        self.rows[company][feed] += rows

    def record_faults(self, out: FileOut) -> None:
        for kind in out.faults:
            lines = out.fault_lines(kind)
            self.fault_counts.append(
                {"company": out.company, "feed": out.feed, "file": out.name, "kind": kind, "rows": len(lines)}
            )
            labels = {
                "company": out.company,
                "feed": out.feed,
                "file": out.name,
                "line_basis": out.basis,
                "kind": kind,
                "field": FAULT_FIELDS[out.company][kind],
            }
            self.fault_rows.append((labels, lines))

    def fault_table(self) -> pa.Table:
        """The planted bad rows (bad_rows.parquet): one row per bad row, the labels of its file and kind."""
        if not self.fault_rows:
            return pa.table({k: pa.array([], t) for k, t in FAULT_TABLE_SCHEMA})
        # the table's rows in order, each with the index of its (file, kind) in fault_rows
        which = pa.array(np.repeat(np.arange(len(self.fault_rows)), [len(lines) for _, lines in self.fault_rows]))
        columns = {}
        for key, typ in FAULT_TABLE_SCHEMA:
            if key == "line":
                columns[key] = pa.array(np.concatenate([lines for _, lines in self.fault_rows]).astype(np.int64))
            else:
                columns[key] = pa.array([labels[key] for labels, _ in self.fault_rows], typ).take(which)
        return pa.table(columns)


def _truncate(data: bytes, frac: float) -> tuple[bytes, int]:
    """Cut ``data`` at about ``frac`` of its length, in the middle of a line."""
    if len(data) < 8:
        return data[: max(len(data) - 1, 0)], max(len(data) - 1, 0)
    p = max(int(len(data) * frac), 2)
    while p < len(data) - 1 and data[p - 1 : p] == b"\n":
        p += 1
    if p >= len(data) - 1:
        p = len(data) - 2
    return data[:p], p


def generate(cfg: GeneratorConfig, sink: Sink, progress: Progress | None = None, workers: int = 2) -> dict:
    """Write all landing files through ``sink``; returns the summary (files and rows per company/feed,
    truth summary). Deterministic for the config (whatever ``workers``). Memory is bounded by three days.

    ``progress(label, done, total)`` is called after each day's files are written and after the masters."""
    cfg.validate()
    t0 = time.perf_counter()
    run = _Run(cfg, sink, progress)
    world = World(cfg.members, cfg.days, cfg.start, cfg.seed, cfg.mode)
    run.track(world)
    sim = DaySimulator(world)
    writer = DayWriter(world, cfg.bad_rate)
    fplan = plan_file_faults(cfg)
    daily = [c for c in run.selected if c in cat.DAILY_FEEDS]
    if "dept" in daily or "hq" in run.selected:
        writer.pii()  # build shared caches before threads use them
    n_steps = cfg.days + 1
    # a small thread pool (numpy, pyarrow, zlib and file writes release the GIL) shops day d + 1 (the part of
    # the simulation that depends on the day alone) and formats and writes the files of day d, while the main
    # thread settles the days in order and keeps the running totals. Each file's bytes depend only on its day,
    # and the main thread records the files in a fixed order, so the output is deterministic.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: list[tuple[int, str, Future[Landed]]] = []
        shopping = pool.submit(sim.shop, 0)
        masters_written = pool.submit(_write_masters, sink, run.selected, world, writer)
        for d in range(cfg.days + 1):
            if d < cfg.days:
                dd = sim.settle(shopping.result())
                if d + 1 < cfg.days:
                    shopping = pool.submit(sim.shop, d + 1)
                _account(run, world, dd)
                submitted = [(d, c, pool.submit(_write_daily, writer, sink, c, dd, fplan.get((d, c)))) for c in daily]
                del dd
            else:
                submitted = []
            for _, _, fut in pending:
                _record(run, fut.result())
            if pending:
                run.progress(f"day {world.date(pending[0][0]).isoformat()}", pending[0][0] + 1, n_steps)
            elif d > 0 and not daily:
                run.progress(f"day {world.date(d - 1).isoformat()}", d, n_steps)
            pending = submitted
        for written in masters_written.result():
            run.record_file(*written)
    run.progress("masters", n_steps, n_steps)
    truth = _write_truth(run, world)
    return {
        "config": _config_dict(cfg),
        "files": len(run.files),
        "bytes": int(sum(f["bytes"] for f in run.files)),
        "rows": run.rows,
        "purchase_lines": int(sum(v["lines"] for v in run.receipts.values())),
        "file_list": run.files,
        "truth": {k: truth[k] for k in ("counts", "programme_effect", "campaigns")}
        | {
            "bad_records": {
                "row_faults": int(sum(c["rows"] for c in run.fault_counts)),
                "file_faults": run.file_faults,
            },
            "location": f"{TRUTH_ZONE}/{TRUTH_DIR}/truth.json",
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }


@dataclass(frozen=True)
class Landed:
    """A daily file once written: the writer's output (without its bytes), the files that reached the sink
    as (name, size) and the file-level fault planted, if any."""

    out: FileOut
    files: tuple[tuple[str, int], ...]
    file_fault: dict | None


def _write_daily(writer: DayWriter, sink: Sink, company: str, dd: DayData, ff: str | None) -> Landed:
    """Format one company's file of a day (runs on the pool) and write it through the sink."""
    return _land(sink, getattr(writer, company)(dd, ff), ff)


def _land(sink: Sink, out: FileOut, ff: str | None) -> Landed:
    """Write one daily file, applying byte-level file faults (``ff``): a truncated copy, or a resent one."""
    data = out.data
    detail: dict = {}
    if ff == "truncated_file":
        if out.name.endswith(".gz"):
            data, cut = _truncate(data, 0.7)
            detail = {
                "bytes_written": cut,
                "bytes_full": len(out.data),
                "note": "gzip stream cut: decompression fails with an unexpected end of stream",
            }
        else:
            data, cut = _truncate(data, 0.6)
            complete = data.count(b"\n") - 1
            detail = {
                "bytes_written": cut,
                "bytes_full": len(out.data),
                "complete_data_rows": complete,
                "rows_full": out.rows,
                "note": f"cut mid-line: lines 2..{complete + 1} are whole, line {complete + 2} is partial",
            }
    elif ff == "missing_columns":
        detail = {"missing_column": MISSING_COLUMN[out.company]}
    elif ff == "extra_columns":
        detail = {"extra_column": EXTRA_COLUMN, "position": "last"}
    elif ff == "wrong_encoding":
        detail = {"encoding": "utf-8", "expected": "cp932"}
    names = [out.name]
    fault = None
    if ff == "duplicate_file":
        stem, dot, ext = out.name.partition(".")
        names.append(f"{stem}_resend{dot}{ext}")
        fault = {"company": out.company, "feed": out.feed, "file": names[1], "kind": ff, "duplicate_of": out.name}
    elif ff:
        fault = {"company": out.company, "feed": out.feed, "file": out.name, "kind": ff, **detail}
    for name in names:
        sink.write_bytes(f"landing-{out.company}", f"{out.feed}/{name}", data)
    return Landed(replace(out, data=b""), tuple((name, len(data)) for name in names), fault)


def _record(run: _Run, landed: Landed) -> None:
    """Record a written daily file in the run (files, rows, file and row faults)."""
    out = landed.out
    for name, size in landed.files:
        run.record_file(out.company, out.feed, name, size, out.rows)
    if landed.file_fault:
        run.file_faults.append(landed.file_fault)
    run.record_faults(out)


def _account(run: _Run, world: World, dd: DayData) -> None:
    """Running totals for the truth: receipts, anonymity, realised programme extras and exposure."""
    for company, v in dd.visits.items():
        r = run.receipts[company]
        r["receipts"] += len(v)
        r["lines"] += len(dd.lines[company].visit)
        r["anonymous_receipts"] += int((v.member < 0).sum())
    n, d = world.n, dd.day
    members, totals = [], []  # of every company's member receipts: one count for all (sums of whole yen are exact)
    for company, v in dd.visits.items():
        has = v.member >= 0
        m = v.member[has]
        total = dd.lines[company].total[has]
        members.append(m)
        totals.append(total)
        ci = cat.CI[company]
        for first, sel in ((run.first_normal, v.kind[has] == 0), (run.first_any, slice(None))):
            idx = m[sel]
            idx = idx[first[idx, ci] == NEVER]
            first[idx, ci] = d
        if company in cat.STORE_COMPANIES and len(world.movers):
            pos = world.mover_pos[m]
            run.mover_days[pos[pos >= 0], d] = True
            mm, st = m[pos >= 0], world.stores[company]
            store = v.store[has][pos >= 0]
            moved = world.move_day[mm] <= d
            lat = np.where(moved, world.new_lat[mm], world.home_lat[mm])
            lon = np.where(moved, world.new_lon[mm], world.home_lon[mm])
            km = places.distance_km(lat, lon, st.lat[store], st.lon[store])
            near = km <= NEAR_HOME_KM
            if company == "sm":  # an sm visit reaches the gid only through a link (id_links, by the last day)
                near &= world.sm_linked[mm] & (world.sm_linked_day[mm] < world.days)
            run.mover_home_days[pos[pos >= 0][near], d] = True
        if company == "cvs":
            extra = v.kind[has] == KIND_PROGRAMME
            run.extra_visits_m += np.bincount(m[extra], minlength=n)
            run.extra_spend_m += np.bincount(m[extra], weights=total[extra], minlength=n)
    all_members = np.concatenate(members)
    run.visits_m += np.bincount(all_members, minlength=n)
    run.spend_m += np.bincount(all_members, weights=np.concatenate(totals), minlength=n)
    v = dd.visits["cvs"]
    extra = v.kind == KIND_PROGRAMME
    run.extra_visits += int(extra.sum())
    run.extra_spend += int(dd.lines["cvs"].total[extra].sum())
    alive = (world.joined_day <= d) & (world.churn_day > d)
    run.enrolled_days += int((alive & (world.prog_day <= d)).sum())
    run.emoney_only_days += int((alive & (world.segment == SEGMENT_EMONEY)).sum())


def _write_masters(
    sink: Sink, selected: tuple[str, ...], world: World, writer: DayWriter
) -> list[tuple[str, str, str, int, int]]:
    """Format and write every master extract (they depend on the world alone: the pool does this while the days
    run); returns what was written as (company, feed, name, size, rows), in the order the run records them."""
    written = []
    for company, feed, name, (data, rows) in _master_files(selected, world, writer):
        sink.write_bytes(f"landing-{company}", f"{feed}/{name}", data)
        written.append((company, feed, name, len(data), rows))
    return written


def _master_files(
    selected: tuple[str, ...], world: World, writer: DayWriter
) -> Iterator[tuple[str, str, str, tuple[bytes, int]]]:
    """(company, feed, file name, (bytes, rows)) of each master extract."""
    for company in selected:
        if company == "hq":
            continue
        yield company, "stores", "stores.csv", masters.stores_csv(world, company)
        yield company, "categories", "categories.csv", masters.categories_csv(company)
        if company == "sm":
            yield company, "id_links", "sm_id_links.csv", masters.id_links_csv(world)
    if "hq" in selected:
        last = world.date(world.days - 1).strftime("%Y%m%d")
        yield "hq", "members", f"members_{last}.csv", masters.members_csv(world, *writer.pii())
        yield "hq", "campaigns", "campaigns.csv", masters.campaigns_csv(world)
        yield "hq", "campaign_assignments", "campaign_assignments.csv", masters.assignments_csv(world)


def _config_dict(cfg: GeneratorConfig) -> dict:
    d = asdict(cfg)
    d["start"] = cfg.start.isoformat()
    d["companies"] = list(cfg.selected())
    return d


def _write_truth(run: _Run, world: World) -> dict:
    w = world
    sink = run.sink
    names = pa.array(list(PREF_NAMES))
    end_day = w.days - 1

    def put(name: str, table: pa.Table) -> str:
        path = f"{TRUTH_DIR}/{name}"
        sink.write_bytes(TRUTH_ZONE, path, _parquet(table))
        return f"{TRUTH_ZONE}/{path}"

    mv = w.movers[np.lexsort((w.gid[w.movers], w.move_day[w.movers]))]
    movers = pa.table(
        {
            "gid": w.gid_str.take(pa.array(mv)),
            "moved_on": _date_col(w.start_day + w.move_day[mv]),
            "from_prefecture": names.take(pa.array(w.home_pref[mv].astype(np.int64))),
            "to_prefecture": names.take(pa.array(w.new_pref[mv].astype(np.int64))),
            "address_updated": pa.array(w.address_updated[mv]),
            "is_within_prefecture": pa.array(w.within_pref_move[mv]),
            "distance_km": pa.array(np.round(places.distance_km(w.home_lat[mv], w.home_lon[mv], w.new_lat[mv],
                                                                 w.new_lon[mv]), 2)),
            # what the data can show: days with a store visit in the 28 days before the move and from it
            "store_visit_days_28d_before": pa.array(_window_days(run.mover_days, w.mover_pos[mv], w.move_day[mv], -28)),
            "store_visit_days_28d_after": pa.array(_window_days(run.mover_days, w.mover_pos[mv], w.move_day[mv], 28)),
            # ... and days with a visit the lake can attribute to the gid at a store within NEAR_HOME_KM of the home
            # (the old one before, the new one from the move): what a method reading store locations can place
            "home_visit_days_28d_before": pa.array(
                _window_days(run.mover_home_days, w.mover_pos[mv], w.move_day[mv], -28)),
            "home_visit_days_28d_after": pa.array(
                _window_days(run.mover_home_days, w.mover_pos[mv], w.move_day[mv], 28)),
        }
    )
    cm = w.commuters
    commuters = pa.table(
        {
            "gid": w.gid_str.take(pa.array(cm)),
            "distance_km": pa.array(
                np.round(places.distance_km(w.home_lat[cm], w.home_lon[cm], w.work_lat[cm], w.work_lon[cm]), 2)
            ),
            "weekday_work_share": pa.array(np.full(len(cm), COMMUTER_WEEKDAY_WORK_SHARE)),
        }
    )
    ch = np.flatnonzero(w.churn_day != NEVER)
    ch = ch[np.lexsort((w.gid[ch], w.churn_day[ch]))]
    churners = pa.table(
        {
            "gid": w.gid_str.take(pa.array(ch)),
            "churned_on": _date_col(w.start_day + w.churn_day[ch]),
            "in_window": pa.array(w.churn_day[ch] >= 0),
            "is_one_purchase": pa.array(w.one_purchase[ch]),
        }
    )
    programme = pa.table(
        {
            "gid": w.gid_str,
            "segment": pa.array(list(SEGMENT_NAMES)).take(pa.array(w.segment.astype(np.int64))),
            "programme_joined_on": _date_col(w.start_day + w.prog_day, null_mask=w.prog_day == NEVER),
            "app_user": pa.array(w.app_user),
        }
    )
    bb = np.flatnonzero(w.baby_day != NEVER)
    life = pa.table({"gid": w.gid_str.take(pa.array(bb)), "baby_on": _date_col(w.start_day + w.baby_day[bb])})
    cm_ids, cm_mem, cm_treat, cm_conv = [], [], [], []
    for c in w.campaigns:
        cm_ids += [c.campaign_id] * len(c.members)
        cm_mem.append(c.members)
        cm_treat.append(c.treatment)
        cm_conv.append(c.conv_day)
    mem = np.concatenate(cm_mem) if cm_mem else np.zeros(0, np.int64)
    conv = np.concatenate(cm_conv) if cm_conv else np.zeros(0, np.int64)
    camp_members = pa.table(
        {
            "campaign_id": pa.array(cm_ids, pa.string()),
            "gid": w.gid_str.take(pa.array(mem)),
            "assigned_group": pa.array(
                np.where(np.concatenate(cm_treat) if cm_treat else np.zeros(0, bool), "treatment", "control").tolist(),
                pa.string(),
            ),
            "converted_on": _date_col(w.start_day + conv, null_mask=conv < 0),
        }
    )
    tables = {
        "movers": put("movers.parquet", movers),
        "commuters": put("commuters.parquet", commuters),
        "churners": put("churners.parquet", churners),
        "programme": put("programme.parquet", programme),
        "life_stages": put("life_stages.parquet", life),
        "campaign_members": put("campaign_members.parquet", camp_members),
    }
    faults = run.fault_table()
    tables["bad_rows"] = put("bad_rows.parquet", faults)

    campaigns = [_campaign_truth(run, w, c) for c in w.campaigns]
    alive_end = (w.joined_day <= end_day) & (w.churn_day > end_day)
    sm_users = w.sm_local >= 0
    counts = {
        "members": w.n,
        "programme_members": int((w.segment == SEGMENT_PROGRAMME).sum()),
        "programme_enrolled_in_window": int(((w.prog_day >= 0) & (w.prog_day != NEVER)).sum()),
        "emoney_only_members": int((w.segment == SEGMENT_EMONEY).sum()),
        "marketing_consent_true": int(w.consent.sum()),
        "app_users": int(w.app_user.sum()),
        "joined_in_window": int((w.joined_day >= 0).sum()),
        "alive_at_end": int(alive_end.sum()),
        "churned_before_start": int((w.churn_day < 0).sum()),
        "churned_in_window": int(((w.churn_day >= 0) & (w.churn_day != NEVER)).sum()),
        "movers": len(w.movers),
        "movers_address_updated": int(w.address_updated.sum()),
        "baby_arrivals": int((w.baby_day != NEVER).sum()),
        "baby_arrivals_in_window": int(((w.baby_day >= 0) & (w.baby_day != NEVER)).sum()),
        "sm_local_members_in_group": int(sm_users.sum()),
        "sm_linked": int((w.sm_linked & sm_users & (w.sm_linked_day < w.days)).sum()),
        "sm_local_members_not_in_group": len(w.sm_other_local),
        "stores": {c: s.n for c, s in w.stores.items()},
        "purchases": run.receipts,
        "purchase_lines": int(sum(v["lines"] for v in run.receipts.values())),
    }
    truth = {
        "schema_version": 2,
        "generator": "generator",
        "mode": w.mode,
        "config": _config_dict(run.cfg),
        "window": {"start": w.date(0).isoformat(), "end": w.date(end_day).isoformat(), "days": w.days},
        "conventions": {
            "prefecture": "Japanese prefecture name as in the extracts, e.g. 東京都",
            "time_zone": "JST (+09:00) unless the format carries an offset; ec UTC Z; app epoch ms UTC",
            "sm_ts": "parquet timestamp[us] without zone, JST wall time",
            "gms_tax": "tax_amount = floor(net_amount * rate), rate 0.08 food depts, 0.10 others",
        },
        "counts": counts,
        "programme_effect": _programme_truth(run, w),
        "campaigns": campaigns,
        "tables": tables,
        "bad_records": {
            "bad_rate": run.cfg.bad_rate,
            "row_faults_table": tables["bad_rows"],
            "line_basis": LINE_BASIS,
            "fields": FAULT_FIELDS,
            "row_fault_counts": run.fault_counts,
            "row_faults_total": int(sum(c["rows"] for c in run.fault_counts)),
            "file_faults": run.file_faults,
            "note": "row faults are disjoint (one kind per row) and never planted in files with a file-level "
            "fault (except duplicate_file, whose copy repeats the original's rows)",
        },
    }
    sink.write_bytes(
        TRUTH_ZONE,
        f"{TRUTH_DIR}/truth.json",
        json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8"),
    )
    return truth


def _window_days(days: np.ndarray, pos: np.ndarray, on: np.ndarray, span: int) -> np.ndarray:
    """Per mover: days with a store visit in the `span` days before (span < 0) or from (span > 0) `on`."""
    out = np.zeros(len(pos), dtype=np.int64)
    for i, (p, d) in enumerate(zip(pos, on, strict=True)):
        lo, hi = (d + span, d) if span < 0 else (d, d + span)
        out[i] = int(days[p, max(lo, 0) : max(hi, 0)].sum())
    return out


def _campaign_truth(run: _Run, w: World, c) -> dict:
    """A campaign's outcome as the analytics define it (first purchase at the target within the referral window
    of the start, among members with no purchase there before the start), and its realised causal uplift: the
    share of treated members at risk whose only such purchase the coupon induced (they would not have bought
    there on their own in the window). Organic first purchases happen in both arms."""
    tgt = cat.CI[c.target]
    lo, hi = c.start_day, c.start_day + REFERRAL_WINDOW_DAYS
    first_any = run.first_any[c.members, tgt]
    first_normal = run.first_normal[c.members, tgt]
    at_risk = first_any >= lo  # nothing at the target in the data before the start
    y1 = at_risk & (first_any < hi)  # what was observed (with the coupon for treated members)
    y0 = at_risk & (first_normal < hi)  # what would have happened without the coupon
    t = c.treatment
    nt, nc = int((t & at_risk).sum()), int((~t & at_risk).sum())
    ct, cc = int((t & y1).sum()), int((~t & y1).sum())
    return {
        "campaign_id": c.campaign_id,
        "company": c.company,
        "target_company": c.target,
        "starts_on": w.date(c.start_day).isoformat(),
        "ends_on": w.date(c.end_day).isoformat(),
        "outcome": f"first purchase at target_company within {REFERRAL_WINDOW_DAYS} days from starts_on, members "
        "with no purchase there in the data before starts_on",
        "outcome_window_days": REFERRAL_WINDOW_DAYS,
        "p_first_purchase_control": c.p_control,
        "p_first_purchase_treatment": c.p_treatment,
        "planted_uplift": round(c.p_treatment - c.p_control, 6),
        "assigned_treatment": int(t.sum()),
        "assigned_control": int((~t).sum()),
        "at_risk_treatment": nt,
        "at_risk_control": nc,
        "converted_treatment": ct,
        "converted_control": cc,
        "organic_buyers_control": cc,
        "organic_buyers_treatment": int((t & y0).sum()),
        "realised_rate_treatment": round(ct / nt, 6) if nt else None,
        "realised_rate_control": round(cc / nc, 6) if nc else None,
        # causal: induced first purchases among treated members at risk (no sampling noise of the control arm)
        "realised_uplift": round(float((y1 & ~y0)[t].sum()) / nt, 6) if nt else None,
    }


def _programme_truth(run: _Run, w: World) -> dict:
    """The programme effect as realised: extra visits and spend it caused per exposed member-month (members who
    enrolled inside the window, counted from enrolment to the window's end whether or not they still shop: the
    effect on someone who stopped is zero), the same per living enrolled member-month over all enrollees, and the
    naive difference that a comparison of programme with e-money-only members shows."""
    beh, end = w.beh, w.days
    months = run.enrolled_days / DAYS_PER_MONTH
    inside = (w.prog_day >= 0) & (w.prog_day < end)
    exposed_months = float((end - w.prog_day[inside]).sum()) / DAYS_PER_MONTH
    # naive: members alive at the window start; programme members who enrolled before it, e-money-only members
    alive0 = (w.joined_day < 0) & (w.churn_day > 0)
    prog = alive0 & (w.segment == SEGMENT_PROGRAMME) & (w.prog_day < 0)
    emon = alive0 & (w.segment == SEGMENT_EMONEY)
    span = end / DAYS_PER_MONTH
    naive_v = run.visits_m[prog].mean() / span - run.visits_m[emon].mean() / span if prog.any() and emon.any() else None
    naive_s = run.spend_m[prog].mean() / span - run.spend_m[emon].mean() / span if prog.any() and emon.any() else None
    return {
        "spend_yen_per_month": beh.programme_spend_per_month,
        "visits_per_month": beh.programme_visits_per_month,
        "days_per_month": DAYS_PER_MONTH,
        "mode": w.mode,
        "self_selected_enrolment": beh.self_selected_enrolment,
        "comparison": "programme members (on and after programme_joined_on) against e-money-only members "
        "(registered e-money card used, never enrolled), per member-month, group purchases",
        "mechanism": (
            "enrolled, living members make extra cvs visits (Poisson, visits_per_month a month times a per-member "
            "multiplier of mean 1), one line each, amount lognormal with mean extra_visit_mean_yen (tax included)"
            + (
                "; heavier usual shoppers enrol more, so programme members shop more than e-money-only members even "
                "without the effect"
                if beh.self_selected_enrolment
                else "; enrolment is independent of all other behaviour, so the baseline is identical"
            )
        ),
        "extra_visit_company": "cvs",
        "extra_visit_mean_yen": round(PROGRAMME_EXTRA_MEAN_YEN, 4),
        "realised": {
            "enrolled_member_days": run.enrolled_days,
            "emoney_only_member_days": run.emoney_only_days,
            "extra_visits": run.extra_visits,
            "extra_spend_yen": run.extra_spend,
            "visits_per_month": round(run.extra_visits / months, 4) if months else None,
            "spend_yen_per_month": round(run.extra_spend / months, 2) if months else None,
            "note": "per living enrolled member-month, all programme members",
        },
        "realised_att": {
            "members": int(inside.sum()),
            "exposed_member_months": round(exposed_months, 2),
            "visits_per_month": round(float(run.extra_visits_m[inside].sum()) / exposed_months, 4)
            if exposed_months
            else None,
            "spend_yen_per_month": round(float(run.extra_spend_m[inside].sum()) / exposed_months, 2)
            if exposed_months
            else None,
            "note": "the causal effect on members who enrolled inside the window: extra visits and spend per "
            "member-month from enrolment to the window's end (alive or not)",
        },
        "naive_difference": {
            "visits_per_month": round(float(naive_v), 4) if naive_v is not None else None,
            "spend_yen_per_month": round(float(naive_s), 2) if naive_s is not None else None,
            "note": "programme members enrolled before the window minus e-money-only members, members alive at the "
            "window start, mean per member-month over the window (counted by the generator)",
        },
    }


def cvs_pos_file(rows: int, day: dt.date, seed: int = 0) -> bytes:
    """One clean cvs POS extract with about ``rows`` lines (for benchmarks: 10M rows in a few seconds)."""
    if rows < 1:
        raise ValueError("rows must be positive")
    members = max(1000, rows // 40)
    world = World(members, 1, day, seed)
    sim = DaySimulator(world)
    rng = np.random.default_rng([seed, 90])
    nv = max(round(rows / cat.LINES_MEAN["cvs"]), 1)
    member = np.where(rng.random(nv) < 0.69, rng.integers(0, members, nv), -1)
    ci = cat.CI["cvs"]
    st = world.stores["cvs"]
    store = np.where(
        member >= 0,
        np.where(rng.random(nv) < 0.7, world.prim[np.maximum(member, 0), ci], world.sec[np.maximum(member, 0), ci]),
        rng.integers(0, st.n, nv),
    )
    sec = _times(rng, "cvs", nv)
    order = np.argsort(sec, kind="stable")
    v = Visits(
        member[order],
        store[order].astype(np.int64),
        sec[order],
        np.zeros(nv, np.int8),
        np.full(nv, -1, np.int64),
    )
    lines, _ = sim._lines(0, "cvs", v)
    pay = sim._payments(0, "cvs", v)
    dd = DayData(0, {"cvs": v}, {"cvs": lines}, {"cvs": pay}, {}, {}, {})
    return DayWriter(world, 0.0).cvs(dd).data
