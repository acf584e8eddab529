"""Segments: named, versioned definitions of who an export lists (`exports/segments/<name>.yml`).

A segment is YAML a data steward can read: a description, the owner company, a default purpose, optionally the
brand the campaign sends members to and a larger minimum size, and rules applied in order, each narrowing the
previous one. It compiles to one DuckDB query over the marts (read through the analyst connection) with one
boolean column per rule, so a dry run counts the members left after each rule in a single scan.

Each kind of rule knows which marts it reads and whose data (which companies) those marts are made of, so the
purpose rules of the sharing agreement can be checked without the author declaring anything. The version of a
segment is the hash of its definition and of the query it compiles to: editing a rule, or a compiler change that
alters the query, makes a new version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from expectations.rules import SharingRules, load_rules
from lake.config import segments_dir
from lake.errors import LakeError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
AS_OF = "{as_of}"  # placeholder for the marts' as-of date, filled in at run time (kept out of the version hash)
DEFAULT_COLUMNS = ("gid", "campaign_id", "assigned_group")
DEFAULT_CAMPAIGN_DAYS = 28
HQ = "hq"  # the member master (and consent) comes from the group ID platform


# --- whose data a mart is made of ------------------------------------------------------------------------------

def purchase_companies(rules: SharingRules) -> frozenset[str]:
    """Companies whose receipts reach the group zone (member days, brands, CLV, moves are made of them)."""
    return frozenset(c for c in rules.companies if rules.shares(c, "purchases") == "receipt")


def line_companies(rules: SharingRules) -> frozenset[str]:
    """Companies that share item lines (the category mix is made of them)."""
    return frozenset(c for c in rules.companies if rules.shares(c, "purchase_lines") is True)


def money_companies(rules: SharingRules) -> frozenset[str]:
    return frozenset(c for c in rules.companies if rules.shares(c, "purchases") == "monthly_member_totals")


# dim_members columns a segment may test with `attribute`, and what each is made of (see dim_members.sql)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "birth_year": ("hq",),
    "gender": ("hq",),
    "registered_prefecture": ("hq",),
    "postal3": ("hq",),
    "joined_on": ("hq",),
    "is_new_member": ("hq",),
    "programme_joined_on": ("hq",),
    "is_programme_member": ("hq",),
    "is_emoney_user": ("money",),
    "is_emoney_only": ("money", "hq"),
    "n_brands": ("purchases",),
    "first_purchase_date": ("purchases",),
    "last_purchase_date": ("purchases",),
    "spend_30d_yen": ("purchases",),
    "spend_90d_yen": ("purchases",),
    "spend_365d_yen": ("purchases",),
    "visits_30d": ("purchases",),
    "visits_90d": ("purchases",),
    "visits_365d": ("purchases",),
    "home_prefecture": ("purchases", "hq"),
    "has_moved": ("purchases",),
    "last_moved_on": ("purchases",),
    "is_baby_stage": ("purchases",),
}


def _resolve(groups: tuple[str, ...], rules: SharingRules) -> frozenset[str]:
    out: set[str] = set()
    for g in groups:
        out |= {"hq": {HQ}, "purchases": purchase_companies(rules), "money": money_companies(rules)}[g]
    return frozenset(out)


# --- rules ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One compiled rule: a boolean SQL expression over `m` (a dim_members row), what it reads, a label."""

    kind: str
    label: str
    sql: str
    reads: frozenset[str]
    marts: frozenset[str]


def _lit(value: Any) -> str:
    """A SQL literal for a YAML scalar (strings quoted, booleans and numbers as such)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(values: list[str]) -> str:
    return ", ".join(_lit(v) for v in values)


class _Spec:
    """Reads one rule's arguments, naming the file and rule in every error."""

    def __init__(self, where: str, kind: str, args: Any, rules: SharingRules) -> None:
        self.where, self.kind, self.rules = where, kind, rules
        if args is True and kind == "consented":
            args = {}
        if not isinstance(args, dict):
            self.fail(f"`{kind}` takes a mapping of arguments, got {args!r}")
        self.args = dict(args)

    def fail(self, what: str, fix: str | None = None) -> None:
        raise LakeError(f"{self.where}: {what}", fix or "see the Segment exports section of README.md")

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = ..., check: Callable[[Any], bool] = bool):
        if key not in self.args:
            if default is ...:
                self.fail(f"`{self.kind}` needs `{key}`")
            return default
        value = self.args.pop(key)
        if (isinstance(value, bool) and kind in (int, float, (int, float))) or not isinstance(value, kind):
            self.fail(f"`{self.kind}.{key}` must be {getattr(kind, '__name__', kind)}, got {value!r}")
        if not check(value):
            self.fail(f"`{self.kind}.{key}` has an invalid value {value!r}")
        return value

    def company(self, value: str, among: frozenset[str]) -> str:
        if value not in among:
            self.fail(f"`{self.kind}`: {value!r} is not a company with that data", f"use one of {sorted(among)}")
        return value

    def done(self) -> None:
        if self.args:
            self.fail(f"`{self.kind}` does not take {sorted(self.args)}")


def _within(days: int | None) -> str:
    return f"last_purchase_date > {AS_OF} - {int(days)}" if days else "true"


def _shopped_at(s: _Spec) -> Rule:
    brands = purchase_companies(s.rules)
    days = s.take("within_days", int, None, lambda d: d > 0)
    when = f" in the last {days} days" if days else ""
    if "company" in s.args:
        company = s.company(s.take("company", str), brands)
        s.done()
        sql = f"m.gid in (select gid from fct_member_brands where company = {_lit(company)} and {_within(days)})"
        return Rule("shopped_at", f"shopped at {company}{when}", sql, frozenset({company}),
                    frozenset({"fct_member_brands"}))
    at_least = s.take("at_least", int, check=lambda n: n >= 1)
    among = [s.company(c, brands) for c in s.take("companies", list, sorted(brands))]
    s.done()
    sql = (
        f"m.gid in (select gid from fct_member_brands where company in ({_in_list(among)}) and {_within(days)} "
        f"group by gid having count(*) >= {at_least})"
    )
    label = f"shopped at {at_least}+ brands{when}"
    return Rule("shopped_at", label, sql, frozenset(among), frozenset({"fct_member_brands"}))


def _never_shopped_at(s: _Spec) -> Rule:
    company = s.company(s.take("company", str), purchase_companies(s.rules))
    s.done()
    sql = f"m.gid not in (select gid from fct_member_brands where company = {_lit(company)})"
    return Rule("never_shopped_at", f"never shopped at {company}", sql, frozenset({company}),
                frozenset({"fct_member_brands"}))


def _bought_category(s: _Spec) -> Rule:
    shares_lines = line_companies(s.rules)
    category = s.take("category", str, check=lambda c: bool(NAME.match(c)))
    days = s.take("within_days", int, None, lambda d: d > 0)
    at = [s.company(c, shares_lines) for c in s.take("at", list, sorted(shares_lines))]
    not_at = [s.company(c, shares_lines) for c in s.take("not_at", list, [])]
    s.done()
    where = [c for c in at if c not in not_at]
    if not where:
        s.fail("`bought_category` leaves no company to look at")
    sql = (
        f"m.gid in (select gid from fct_member_categories where category = {_lit(category)} "
        f"and company in ({_in_list(where)}) and {_within(days)})"
    )
    label = f"bought {category} items" + (f" in the last {days} days" if days else "")
    label += f", not at {', '.join(not_at)}" if not_at else ""
    return Rule("bought_category", label, sql, frozenset(where), frozenset({"fct_member_categories"}))


def _churn_risk(s: _Spec) -> Rule:
    p = s.take("max_p_alive", (int, float), check=lambda v: 0 < v <= 1)
    s.done()
    sql = f"m.gid in (select gid from mart_clv where p_alive < {float(p)!r})"
    return Rule("churn_risk", f"P(alive) below {p} (at risk of leaving)", sql, purchase_companies(s.rules),
                frozenset({"mart_clv"}))


def _moved(s: _Spec) -> Rule:
    days = s.take("within_days", int, check=lambda d: d > 0)
    near = s.take("near", dict, None)
    reads = set(purchase_companies(s.rules))  # moves are seen in the stores members use
    if near is None:
        s.done()
        sql = f"m.gid in (select gid from fct_member_moves where moved_on > {AS_OF} - {days})"
        return Rule("moved", f"moved house in the last {days} days", sql, frozenset(reads),
                    frozenset({"fct_member_moves"}))
    near_spec = _Spec(s.where, "moved.near", near, s.rules)
    company = near_spec.company(near_spec.take("company", str), frozenset(s.rules.companies))
    km = near_spec.take("max_km", (int, float), check=lambda v: v > 0)
    near_spec.done()
    s.done()
    sql = (
        f"m.gid in (select gid from mart_move_nearby_stores where moved_on > {AS_OF} - {days} "
        f"and company = {_lit(company)} and distance_km <= {float(km)!r})"
    )
    label = f"moved house in the last {days} days, a {company} store they do not use within {km} km"
    return Rule("moved", label, sql, frozenset(reads | {company}), frozenset({"mart_move_nearby_stores"}))


def _attribute(s: _Spec) -> Rule:
    column = s.take("column", str)
    if column not in ATTRIBUTES:
        s.fail(f"`attribute`: {column!r} is not a dim_members column segments may use",
               f"use one of {sorted(ATTRIBUTES)}")
    tests = []
    for key, op in (("equals", "="), ("min", ">="), ("max", "<=")):
        if key in s.args:
            tests.append(f"m.{column} {op} {_lit(s.take(key, (str, int, float, bool)))}")
    if "in" in s.args:
        tests.append(f"m.{column} in ({_in_list(s.take('in', list))})")
    s.done()
    if not tests:
        s.fail("`attribute` needs one of equals, in, min, max")
    sql = "coalesce(" + " and ".join(tests) + ", false)"
    return Rule("attribute", " and ".join(t.removeprefix("m.") for t in tests), sql,
                _resolve(ATTRIBUTES[column], s.rules), frozenset({"dim_members"}))


def _consented(s: _Spec) -> Rule:
    s.done()
    column = f"has_{s.rules.consent_column}"  # staging names booleans has_/is_ (stg_group__members)
    return Rule("consented", "marketing consent", f"coalesce(m.{column}, false)", frozenset({HQ}),
                frozenset({"dim_members"}))


KINDS: dict[str, Callable[[_Spec], Rule]] = {
    "shopped_at": _shopped_at,
    "never_shopped_at": _never_shopped_at,
    "bought_category": _bought_category,
    "churn_risk": _churn_risk,
    "moved": _moved,
    "attribute": _attribute,
    "consented": _consented,
}


# --- segments ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    owner: str
    purpose: str
    target_company: str
    minimum_size: int | None
    columns: tuple[str, ...]
    campaign_days: int
    rules: tuple[Rule, ...]
    path: Path
    definition: dict[str, Any] = field(repr=False)

    @property
    def reads(self) -> frozenset[str]:
        """Every company whose data decides who is in the segment (the member master always)."""
        out = {HQ}
        for r in self.rules:
            out |= r.reads
        return frozenset(out)

    @property
    def marts(self) -> frozenset[str]:
        return frozenset({"dim_members"}).union(*(r.marts for r in self.rules))

    def query(self, as_of: str = AS_OF) -> str:
        """Per member of dim_members: gid, consent, each extra column asked for, and `r1..rn` (each rule holds)."""
        consent = f"coalesce(m.has_{load_rules().consent_column}, false)"
        extra = [f"m.{c}" for c in self.columns if c not in DEFAULT_COLUMNS]
        cols = ["m.gid", f"{consent} as _consent", *extra]
        cols += [f"({r.sql}) as r{i}" for i, r in enumerate(self.rules, 1)]
        return ("select " + ", ".join(cols) + " from dim_members as m").replace(AS_OF, as_of)

    @property
    def version(self) -> str:
        """sha256 of the definition and of the query it compiles to (the as-of date left as a placeholder)."""
        body = json.dumps({"definition": self.definition, "query": self.query()}, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


def _where(path: Path, rule: int | None = None) -> str:
    return f"segment {path}" + (f", rule {rule}" if rule is not None else "")


def parse_segment(path: Path, rules: SharingRules | None = None) -> Segment:
    """Read and compile one segment file; every mistake names the file, the rule and the fix."""
    rules = rules or load_rules()
    name = path.stem
    if not NAME.match(name):
        raise LakeError(f"{_where(path)}: the name {name!r} is not lower_snake_case", "rename the file")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise LakeError(f"{_where(path)} cannot be read: {e}", "fix the YAML") from e
    if not isinstance(spec, dict):
        raise LakeError(f"{_where(path)}: expected a mapping", "see exports/segments/*.yml for examples")
    known = {"description", "owner", "purpose", "target_company", "minimum_size", "columns", "campaign_days", "rules"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise LakeError(f"{_where(path)}: unknown keys {unknown}", f"use only {sorted(known)}")
    for key in ("description", "owner", "purpose", "rules"):
        if not spec.get(key):
            raise LakeError(f"{_where(path)}: `{key}` is missing",
                            "every segment has a description, owner, purpose and rules")
    owner, purpose = str(spec["owner"]), str(spec["purpose"])
    if owner not in rules.companies:
        raise LakeError(f"{_where(path)}: owner {owner!r} is not a group company",
                        f"use one of {list(rules.companies)}")
    if purpose not in rules.purposes:
        raise LakeError(f"{_where(path)}: purpose {purpose!r} is not in the sharing rules",
                        f"use one of {sorted(rules.purposes)}")
    target = str(spec.get("target_company") or owner)
    if target not in rules.companies:
        raise LakeError(f"{_where(path)}: target_company {target!r} is not a group company",
                        f"use one of {list(rules.companies)}")
    minimum = spec.get("minimum_size")
    if minimum is not None and (not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1):
        raise LakeError(f"{_where(path)}: minimum_size must be a positive whole number", "for example 500")
    columns = tuple(str(c) for c in spec.get("columns") or DEFAULT_COLUMNS)
    if "gid" not in columns or "assigned_group" not in columns or len(set(columns)) != len(columns):
        raise LakeError(f"{_where(path)}: `columns` must list gid and assigned_group once each (member and arm)",
                        f"for example {list(DEFAULT_COLUMNS)}")
    days = spec.get("campaign_days", DEFAULT_CAMPAIGN_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise LakeError(f"{_where(path)}: campaign_days must be 1..366", f"for example {DEFAULT_CAMPAIGN_DAYS}")
    if not isinstance(spec["rules"], list):
        raise LakeError(f"{_where(path)}: `rules` must be a list", "one `- kind: {arguments}` per line")
    compiled = []
    for i, item in enumerate(spec["rules"], 1):
        if not isinstance(item, dict) or len(item) != 1:
            raise LakeError(f"{_where(path, i)}: each rule is one `kind: {{arguments}}`", f"kinds: {sorted(KINDS)}")
        ((kind, args),) = item.items()
        if kind not in KINDS:
            raise LakeError(f"{_where(path, i)}: unknown rule {kind!r}", f"use one of {sorted(KINDS)}")
        compiled.append(KINDS[kind](_Spec(_where(path, i), kind, args, rules)))
    definition = {k: spec.get(k) for k in sorted(known - {"description"})}
    definition.update(owner=owner, purpose=purpose, target_company=target, columns=list(columns), campaign_days=days)
    return Segment(name, " ".join(str(spec["description"]).split()), owner, purpose, target, minimum, columns, days,
                   tuple(compiled), path, definition)


def segment_files(directory: Path | None = None) -> list[Path]:
    return sorted(p for p in (directory or segments_dir()).glob("*.yml") if not p.name.startswith("_"))


def load_segments(directory: Path | None = None) -> list[Segment]:
    return [parse_segment(p) for p in segment_files(directory)]


def load_segment(name: str, directory: Path | None = None) -> Segment:
    directory = directory or segments_dir()
    path = directory / f"{name}.yml"
    if not NAME.match(name) or not path.is_file():
        known = [p.stem for p in segment_files(directory)]
        raise LakeError(f"no segment named {name!r} in {directory}", f"use one of {known} (`lake export --list`)")
    return parse_segment(path)
