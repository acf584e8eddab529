"""What a transform run must do: from the live raw batches and the state, the units to rebuild.

The units of work, each rebuilt whole from the raw zone when anything in it changed:
- a sales **date**: every company's purchases of that JST date (the group tables partitioned by
  purchase_date hold all companies, so a late diner file for 3 August rebuilds exactly 3 August);
- an app-events **date**;
- an e-money **month** (the group zone holds only monthly totals);
- a **master** table (full snapshots: stores, categories, members, campaigns, assignments, id links).
A new categories or sm link snapshot changes how every sales date is conformed, so it rebuilds them all.
Pure functions of small listings; the feed tables below say which raw feed is which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lake.errors import LakeError
from transforms.state import Batches, Listing, RawFile, State, all_dates, changed_dates, removed

# Daily feed of each company and its shape. Which of them reach the group zone, and how, is the
# sharing rules' decision (`rules.shares`), never this table's.
SALES_FEEDS: dict[str, tuple[str, str]] = {
    "cvs": ("pos", "lines"), "gms": ("sales", "lines"), "sm": ("sales", "lines"), "baby": ("sales", "lines"),
    "dept": ("receipts", "receipts"), "diner": ("checks", "receipts"), "ec": ("orders", "receipts"),
}
EVENT_FEED = ("app", "events")
MONEY_FEED = ("money", "txns")
DATED_FEEDS = [*((c, f) for c, (f, _) in SALES_FEEDS.items()), EVENT_FEED, MONEY_FEED]
SNAPSHOT_FEEDS = ["stores", "categories"]  # every company sends these
HQ_FEEDS = ["members", "campaigns", "campaign_assignments"]
LINK_FEED = ("sm", "id_links")


def key(company: str, feed: str) -> str:
    return f"{company}/{feed}"


def master_sources(companies: list[str]) -> dict[str, list[str]]:
    """Group master table -> the snapshot feeds (`company/feed`) it is built from."""
    out = {feed: [key(c, feed) for c in companies] for feed in SNAPSHOT_FEEDS}
    out.update({feed: [key("hq", feed)] for feed in HQ_FEEDS})
    out["id_links"] = [key(*LINK_FEED)]
    return out


@dataclass
class Work:
    """The units a run rebuilds, and what it needs to know about them."""

    live: dict[str, Listing]  # dated feed -> date -> live batches
    snapshots: dict[str, RawFile | None]  # snapshot feed -> its latest snapshot
    sales_dates: set[str] = field(default_factory=set)
    event_dates: set[str] = field(default_factory=set)
    money_dates: set[str] = field(default_factory=set)  # every date of the months rebuilt
    masters: set[str] = field(default_factory=set)
    gone: dict[str, dict[str, Batches]] = field(default_factory=dict)  # feed -> date -> batches no longer live

    @property
    def empty(self) -> bool:
        return not (self.sales_dates or self.event_dates or self.money_dates or self.masters)

    def dates_of(self, feed_key: str) -> set[str]:
        if feed_key == key(*EVENT_FEED):
            return self.event_dates
        if feed_key == key(*MONEY_FEED):
            return self.money_dates
        return self.sales_dates


def plan(live: dict[str, Listing], snapshots: dict[str, RawFile | None], state: State, companies: list[str],
         dates: list[str] | None = None) -> Work:
    """The work of one run; `dates` (YYYY-MM-DD) forces exactly those dates (and their e-money months)."""
    if not any(live.values()) and not any(snapshots.values()):
        raise LakeError("nothing has been ingested into this lake: every raw zone is empty",
                        "run `lake ingest` first (or check --lake / LAKE_URI names the right lake)")
    work = Work(live, snapshots)
    built = state.feeds
    sales = [key(c, f) for c, (f, _) in SALES_FEEDS.items()]
    events, money = key(*EVENT_FEED), key(*MONEY_FEED)
    known = {k: all_dates(live.get(k, {}), built.get(k, {})) for k in [*sales, events, money]}
    if dates is not None:
        wanted = set(dates)
        work.sales_dates = wanted & set().union(*(known[k] for k in sales))
        work.event_dates = wanted & known[events]
        months = {d[:7] for d in wanted & known[money]}
        if not (work.sales_dates or work.event_dates or months):
            raise LakeError(f"no raw data for {', '.join(sorted(wanted))}", "give dates the raw zones hold")
    else:
        changed = {k: changed_dates(live.get(k, {}), built.get(k, {})) for k in [*sales, events, money]}
        work.sales_dates = set().union(*(changed[k] for k in sales))
        # Mappings are applied at conform time: a new category or link snapshot re-conforms every sales date.
        mappings = [key(c, "categories") for c in SALES_FEEDS] + [key(*LINK_FEED)]
        if any(_snapshot_changed(snapshots, state, m) for m in mappings):
            work.sales_dates = set().union(*(known[k] for k in sales))
        work.event_dates = changed[events]
        months = {d[:7] for d in changed[money]}
        for table, sources in master_sources(companies).items():
            if any(_snapshot_changed(snapshots, state, s) for s in sources):
                work.masters.add(table)
    work.money_dates = {d for d in known[money] if d[:7] in months}
    for k in [*sales, events, money]:
        if gone := removed(live.get(k, {}), built.get(k, {}), work.dates_of(k)):
            work.gone[k] = gone
    return work


def _snapshot_changed(snapshots: dict[str, RawFile | None], state: State, feed_key: str) -> bool:
    snap = snapshots.get(feed_key)
    return (snap.batch_id if snap else None) != state.snapshots.get(feed_key)
