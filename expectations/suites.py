"""Expectation suites compiled at run time from the sharing rules, the contracts, the group interface and
the marts' declarations: change a rule in `sharing_rules.yml` and the checks change, with no code change.

Every expectation carries `meta`: the rule it enforces (a path in the rules file or a declaration) and
the column it is about, so a failure message can name the rule, the table, the column and the rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from expectations.rules import SharingRules
from lake.config import REPO_ROOT

MARTS_YML = sorted((REPO_ROOT / "models" / "models").rglob("_*.yml"))


def _gx() -> Any:
    import great_expectations as gx

    return gx.expectations


def _meta(rule: str, column: str | None = None, **extra: Any) -> dict:
    return {"rule": rule, "column": column, **extra}


def ExpectColumnValuesToBeValidGid(**kwargs: Any) -> Any:  # the GX class, imported when one is built
    from expectations.custom import ExpectColumnValuesToBeValidGid as E

    return E(**kwargs)


def ExpectTableColumnsToExclude(**kwargs: Any) -> Any:
    from expectations.custom import ExpectTableColumnsToExclude as E

    return E(**kwargs)


@dataclass(frozen=True)
class Spec:
    """An expectation as data: its GX class name, arguments and meta. The landing -> raw suites are written as
    specs so that ingestion can prove them met from what it already knows (`gates.check_landing`) without
    importing Great Expectations (seconds), and build the GX objects only when something may fail."""

    kind: str  # the GX class, e.g. ExpectColumnValuesToNotBeNull
    kwargs: dict
    meta: dict

    @property
    def expectation_type(self) -> str:
        """GX's name for it (`expect_column_values_to_not_be_null`), as its results carry it."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()

    def build(self) -> Any:
        if self.kind == "ExpectColumnValuesToBeValidGid":
            return ExpectColumnValuesToBeValidGid(**self.kwargs, meta=dict(self.meta))
        return getattr(_gx(), self.kind)(**self.kwargs, meta=dict(self.meta))


# --- raw zone (landing -> raw) ------------------------------------------------------------------

def raw_schema_specs(contract: Any) -> list[Spec]:
    """The columns and types a contract promises, checked on a table of the Parquet schema (`column`, `kind`:
    one row per column of the file, see `arrow_kind`), so no data is read for them."""
    name = contract.path.name
    cols = [c.name for c in contract.columns] + ["_line", "_batch_id"]
    pairs = [(c.name, c.type if c.type != "gid" else "string") for c in contract.columns]
    pairs += [("_line", "int"), ("_batch_id", "string")]
    return [
        Spec("ExpectColumnDistinctValuesToEqualSet", {"column": "column", "value_set": cols}, _meta(
            f"contract {name}: columns", "column", why="exactly the contract's columns (plus _line, _batch_id)")),
        Spec("ExpectColumnPairValuesToBeInSet", {"column_A": "column", "column_B": "kind", "value_pairs_set": pairs},
             _meta(f"contract {name}: types", "kind", why="each column has the contract's type")),
    ]


def raw_schema(contract: Any) -> list[Any]:
    """`raw_schema_specs` as GX expectations."""
    return [s.build() for s in raw_schema_specs(contract)]


def arrow_kind(t: Any) -> str:
    """The contract type an Arrow type stands for (`string`, `int`, ...), or the Arrow type itself."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date32(t):
        return "date"
    if pa.types.is_timestamp(t) and t.tz == "UTC":
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return str(t)


def raw_values_specs(contract: Any) -> tuple[list[Spec], list[str]]:
    """Row checks of a contract on the landed rows, and the columns they need."""
    out, cols = [], []
    for c in contract.columns:
        if c.required:
            out.append(Spec("ExpectColumnValuesToNotBeNull", {"column": c.name},
                            _meta(f"contract {contract.path.name}: required", c.name)))
            cols.append(c.name)
        if c.type == "gid":
            out.append(Spec("ExpectColumnValuesToBeValidGid", {"column": c.name},
                            _meta("gid: Luhn check digit", c.name)))
            cols.append(c.name)
    return out, sorted(set(cols))


def raw_values(contract: Any) -> tuple[list[Any], list[str]]:
    """`raw_values_specs` as GX expectations."""
    specs, cols = raw_values_specs(contract)
    return [s.build() for s in specs], cols


# --- group zone (raw -> group) ------------------------------------------------------------------

def table_owners(rules: SharingRules, table: str) -> tuple[str | None, set[str] | None]:
    """(owner, companies allowed) for a group table: tables with a `company` column may hold rows of the
    allowed companies; tables of one company (money_monthly, app_events, ...) are allowed or not at all."""
    everyone = set(rules.companies)
    if table in rules.reference_data:
        return None, everyone
    if table in ("purchases", "member_day"):
        return None, {c for c in everyone if rules.shares(c, "purchases") == "receipt"}
    if table in ("purchase_lines", "member_day_category"):
        return None, {c for c in everyone if rules.shares(c, "purchase_lines") is True}
    single = {
        "money_monthly": ("money", rules.shares("money", "purchases") == "monthly_member_totals"),
        "app_events": ("app", bool(rules.shares("app", "app_events"))),
        "members": ("hq", rules.shares("hq", "members") == "generalised"),
        "id_links": ("sm", rules.shares("sm", "id_links") == "pseudonymised"),
        "campaigns": ("hq", bool(rules.shares("hq", "campaigns"))),
        "campaign_assignments": ("hq", bool(rules.shares("hq", "campaigns"))),
        "reconciliation": (None, True),  # counts only: the transforms' own record
    }
    if table in single:
        owner, allowed = single[table]
        return owner, (everyone if allowed else set())
    return None, set()  # a table the interface does not know is shared by nobody


def group_suite(rules: SharingRules, table: str, columns: dict[str, str], interface: Iterable[str],
                string_columns: Iterable[str]) -> list[Any]:
    """Compliance of one group table: shared tables and columns only, no PII column or value, generalised
    members, pseudonymised links. `columns` are the batch's (name -> type), `interface` the agreed ones."""
    E = _gx()
    out: list[Any] = []
    owner, allowed = table_owners(rules, table)
    if allowed is not None and not allowed:
        who = owner or "no company"
        out.append(E.ExpectTableRowCountToEqual(value=0, meta=_meta(
            f"sharing.{owner}" if owner else "sharing", None, company=owner,
            why=f"{who} does not share {table}")))
    elif "company" in columns and owner is None:
        out.append(E.ExpectColumnValuesToBeInSet(column="company", value_set=sorted(allowed), meta=_meta(
            f"sharing.<company>.{table}", "company", why=f"only {', '.join(sorted(allowed))} share {table}")))
    out.append(ExpectTableColumnsToExclude(column_set=sorted(rules.pii_columns),
                                           meta=_meta("pii.columns", None, why="PII columns never leave raw zones")))
    agreed = list(interface)
    out.append(E.ExpectTableColumnsToMatchSet(column_set=agreed, exact_match=True, meta=_meta(
        "sharing (transforms/group_schema.yml)", None, why="only the agreed columns are shared")))
    for extra in sorted(set(columns) - set(agreed)):
        out.append(E.ExpectColumnValuesToBeNull(column=extra, meta=_meta(
            "sharing (transforms/group_schema.yml)", extra, why=f"{extra} is not a shared column of {table}")))
    # one alternation, not a list: GX's pandas engine scans a column once per listed pattern (half the cost)
    patterns = ["|".join(f"(?:{p})" for p in rules.value_patterns.values())]
    # a keyed hash is 64 hex digits, whose digit runs can look like a phone number: its shape is checked instead
    pseudonyms = {"local_member_key"} if table == "id_links" else set()
    for c in [c for c in string_columns if c not in pseudonyms]:
        out.append(E.ExpectColumnValuesToNotMatchRegexList(column=c, regex_list=patterns, meta=_meta(
            "pii.value_patterns", c, why=f"no value may look like {' or '.join(rules.value_patterns)} (after NFKC)")))
    if table == "members":
        out += members_generalised(rules, columns)
    if table == "id_links" and "local_member_key" in columns:
        out.append(E.ExpectColumnValuesToMatchRegex(column="local_member_key", regex="^[0-9a-f]{64}$", meta=_meta(
            "sharing.sm.id_links: pseudonymised", "local_member_key", why="local IDs only as keyed hashes")))
    return out


def members_generalised(rules: SharingRules, columns: dict[str, str]) -> list[Any]:
    """The generalisations the rules name (`members:`), as the values they must produce."""
    from transforms.masters import GENERALISED_NAME

    E = _gx()
    out = []
    for source, how in rules.members.items():
        col = GENERALISED_NAME.get(source, f"{source}_{how}")
        meta = _meta(f"members.{source}: {how}", col, why=f"{source} only as {how}")
        if how == "first_3_digits":
            out.append(E.ExpectColumnValuesToMatchRegex(column=col, regex="^[0-9]{3}$", meta=meta))
        elif how == "year":
            out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=1900, max_value=2100, meta=meta))
        elif how == "drop":
            out.append(E.ExpectColumnValuesToBeNull(column=col, meta=meta))
    return out


# --- marts (group -> marts) ---------------------------------------------------------------------

def mart_declarations(paths: Iterable[Path] = MARTS_YML) -> dict[str, dict[str, Any]]:
    """What the dbt project declares of each mart: its column tests and its `k_anonymous` test.

    One declaration (models/**/_*.yml) compiles to dbt data tests and to these expectations.
    """
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        spec = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        for model in spec.get("models", []):
            d = out.setdefault(model["name"], {"columns": {}, "k": None})
            for test in model.get("data_tests", []) or []:
                if isinstance(test, dict) and "k_anonymous" in test:
                    d["k"] = (test["k_anonymous"] or {}).get("arguments", test["k_anonymous"])
            for col in model.get("columns", []) or []:
                names = []
                for t in col.get("data_tests", []) or []:
                    names.append(t if isinstance(t, str) else next(iter(t)))
                d["columns"][col["name"]] = names
    return out


def mart_suite(rules: SharingRules, mart: str, declared: dict[str, Any], columns: list[str]) -> list[Any]:
    """Keys, probabilities, money and minimum cell size of one mart, from its declaration."""
    from great_expectations.expectations.row_conditions import Column, OrCondition

    E = _gx()
    out: list[Any] = [ExpectTableColumnsToExclude(column_set=sorted(rules.pii_columns), meta=_meta("pii.columns"))]
    for col, tests in declared["columns"].items():
        if col not in columns:
            continue
        src = f"models: {mart}.{col}"
        if "unique" in tests:
            out.append(E.ExpectColumnValuesToBeUnique(column=col, meta=_meta(f"{src}: unique key", col)))
        if "not_null" in tests:
            out.append(E.ExpectColumnValuesToNotBeNull(column=col, meta=_meta(f"{src}: not null", col)))
        if "non_negative" in tests:
            out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=0, meta=_meta(f"{src}: money >= 0", col)))
        if "between_zero_and_one" in tests:
            out.append(E.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1,
                                                       meta=_meta(f"{src}: probability", col)))
    if declared.get("k"):
        k = rules.aggregate_cell_k
        counts = list(declared["k"]["member_counts"])
        keep = set(declared["k"].get("dimensions", [])) | set(counts) | {"is_suppressed", "is_published"}
        rule = "minimum_cohort.aggregate_cell_k"
        for c in counts:
            out.append(E.ExpectColumnValuesToBeBetween(column=c, min_value=k, meta=_meta(
                rule, c, k=k, why=f"no published count of members below k={k} (null when suppressed)")))
        depends = declared["k"].get("values") or {}
        for v in columns:
            if v in keep:
                continue
            on = list(depends.get(v, counts))  # the counts this value is computed from (default: all)
            small = OrCondition(conditions=[cond for c in on for cond in (Column(c) < k, Column(c).is_null())])
            out.append(E.ExpectColumnValuesToBeNull(column=v, row_condition=small, meta=_meta(
                rule, v, k=k, why=f"values are null where {' or '.join(on)} is below k={k}")))
    return out


def mart_columns(declared: dict[str, Any], columns: list[str]) -> list[str]:
    """The columns the mart's suite reads (so the batch carries nothing else)."""
    need = {c for c in declared["columns"] if c in columns}
    if declared.get("k"):
        need |= set(columns)
    return [c for c in columns if c in need]


# --- exports (marts -> exports) -----------------------------------------------------------------

def export_suite(rules: SharingRules, columns: list[str], company: str, purpose: str, min_size: int,
                 sources: list[str]) -> tuple[list[Any], list[Any]]:
    """(candidate checks, request checks): consent, allowed columns, minimum size; purpose and sources."""
    E = _gx()
    size = max(min_size, rules.segment_export_min)  # the strictest applicable rule wins
    consent = rules.consent_column
    candidate = [
        E.ExpectColumnValuesToNotBeNull(column="gid", meta=_meta("export: gid", "gid")),
        E.ExpectColumnValuesToBeUnique(column="gid", meta=_meta("export: one row per member", "gid")),
        E.ExpectColumnValuesToBeInSet(column=consent, value_set=[True], meta=_meta(
            f"marketing.consent_column ({consent})", consent, why="only consented members may be exported")),
        E.ExpectColumnValuesToNotBeNull(column=consent, meta=_meta(
            f"marketing.consent_column ({consent})", consent, why="a member without a known consent is not consented")),
        E.ExpectTableRowCountToBeBetween(min_value=size, meta=_meta(
            "minimum_cohort.segment_export_min", None, why=f"a segment export has at least {size} members")),
        # exact: every column present must be an allowed one (the allowed ones need not all be there yet)
        E.ExpectTableColumnsToMatchSet(
            column_set=[c for c in columns if c in rules.export_columns] + [consent], exact_match=True,
            meta=_meta("marketing.export_columns", None,
                       why=f"a segment file carries only {', '.join(rules.export_columns)}")),
    ]
    allowed = rules.purposes.get(purpose, {}).get("may_use", [])
    request = [
        E.ExpectColumnValuesToBeInSet(column="purpose", value_set=sorted(rules.purposes), meta=_meta(
            "purposes", "purpose", why="an export names a purpose the rules know")),
        E.ExpectColumnValuesToBeInSet(column="company", value_set=sorted(rules.companies), meta=_meta(
            "companies", "company", why="the requesting company is a group company")),
        E.ExpectColumnValuesToBeInSet(column="source", value_set=sorted(allowed), meta=_meta(
            f"purposes.{purpose}.may_use", "source", why=f"only {', '.join(allowed) or 'nobody'} may feed {purpose}")),
    ]
    return candidate, request


# --- operations: freshness, volume, retention -------------------------------------------------

def freshness_suite(rules: SharingRules, companies: Iterable[str]) -> list[Any]:
    E = _gx()
    from great_expectations.expectations.row_conditions import Column

    out = []
    default = int(rules.freshness.get("max_days_behind", 2))
    overrides = dict(rules.freshness.get("per_company") or {})
    others = Column("company").is_not_in(sorted(overrides)) if overrides else None
    out.append(E.ExpectColumnValuesToBeBetween(column="days_behind", max_value=default, row_condition=others,
                                               meta=_meta("freshness.max_days_behind", "days_behind", why=(
        f"every company's newest file within {default} days of the newest company's"))))
    for company, limit in overrides.items():
        if company in companies:
            out.append(E.ExpectColumnValuesToBeBetween(column="days_behind", max_value=int(limit),
                                                       row_condition=Column("company") == company, meta=_meta(
                f"freshness.per_company.{company}", "days_behind", company=company)))
    return out


def volume_specs(rules: SharingRules) -> list[Spec]:
    lo, hi = float(rules.volume.get("min_ratio", 0.5)), float(rules.volume.get("max_ratio", 3.0))
    return [Spec("ExpectColumnValuesToBeBetween", {"column": "ratio", "min_value": lo, "max_value": hi}, _meta(
        "volume.min_ratio/max_ratio", "ratio", why=f"a day's rows between {lo} and {hi} times the usual "
        "(same weekday; paydays and month ends against their own kind)"))]


def volume_suite(rules: SharingRules) -> list[Any]:
    return [s.build() for s in volume_specs(rules)]


def retention_suite() -> list[Any]:
    E = _gx()
    return [E.ExpectColumnValuesToBeBetween(column="days_overdue", max_value=0, meta=_meta(
        "retention_days", "days_overdue", why="nothing is kept past its zone's retention"))]
