"""The sharing rules an export must pass, in the order they are applied (DESIGN §6), in one place.

Each check looks at what is about to leave the lake (the table to be written, the consent of its members, whose data
chose them) and returns a `Check` that names the rule, gives the numbers and says what to change. The export runs
them all and refuses when any fails, so one refusal lists every problem. The values come from
`expectations/sharing_rules.yml`; nothing here restates a rule's number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from expectations.rules import SharingRules

# Rule names, in the order they are applied (also the vocabulary of the audit log and the README).
COMPANY = "company"
PURPOSE = "purpose"
PURPOSE_DATA = "purpose_data"
COLUMNS = "columns"
CONSENT = "consent"
MINIMUM_SIZE = "minimum_size"
ARM_SIZE = "arm_size"
ORDER = (COMPANY, PURPOSE, PURPOSE_DATA, COLUMNS, CONSENT, MINIMUM_SIZE, ARM_SIZE)

GROUP_COLUMN = "assigned_group"  # as in hq's campaign_assignments: `treatment`, or `control` for the holdout
TREATMENT, CONTROL = "treatment", "control"


@dataclass(frozen=True)
class Check:
    rule: str
    ok: bool
    detail: str
    fix: str | None = None
    numbers: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{'ok' if self.ok else 'REFUSED'} {self.rule}: {self.detail}" + ("" if self.ok or not self.fix else
                                                                                  f" (fix: {self.fix})")


@dataclass(frozen=True)
class Request:
    """Who asks for what: the requesting company, the purpose, and the segment's own terms."""

    segment: str
    company: str
    purpose: str
    reads: frozenset[str]  # companies whose data chose the members
    segment_minimum: int | None = None
    holdout_share: float = 0.0


def minimum_size(rules: SharingRules, segment_minimum: int | None) -> tuple[int, dict[str, int]]:
    """The minimum an export must reach: the strictest of the rules' minimum, the segment's own, and k."""
    terms = {"segment_export_min": rules.segment_export_min, "aggregate_cell_k": rules.aggregate_cell_k}
    if segment_minimum is not None:
        terms["segment minimum_size"] = segment_minimum
    return max(terms.values()), terms


def check_company(req: Request, rules: SharingRules) -> Check:
    known = list(rules.companies)
    if req.company in rules.companies:
        return Check(COMPANY, True, f"{req.company} is a group company")
    return Check(COMPANY, False, f"{req.company!r} is not a group company in the sharing rules",
                 f"use one of {', '.join(known)} for --company", {"company": req.company})


def check_purpose(req: Request, rules: SharingRules) -> Check:
    if req.purpose in rules.purposes:
        return Check(PURPOSE, True, f"{req.purpose}: {rules.purposes[req.purpose].get('description', '')}".strip())
    return Check(PURPOSE, False, f"{req.purpose!r} is not a purpose in the sharing rules",
                 f"use one of {', '.join(sorted(rules.purposes))} for --purpose", {"purpose": req.purpose})


def check_purpose_data(req: Request, rules: SharingRules) -> Check:
    may_use = set(rules.purposes[req.purpose]["may_use"])
    forbidden = sorted(req.reads - may_use)
    reads = ", ".join(sorted(req.reads))
    if not forbidden:
        return Check(PURPOSE_DATA, True, f"reads {reads}: all may feed {req.purpose}")
    allowing = sorted(p for p, spec in rules.purposes.items() if req.reads <= set(spec["may_use"]))
    fix = f"remove the rules of segment {req.segment} that read {', '.join(forbidden)} data"
    fix += f", or use a purpose that allows it ({', '.join(allowing)})" if allowing else ""
    return Check(PURPOSE_DATA, False, f"reads {', '.join(forbidden)} data, which may not feed {req.purpose} "
                 f"(allowed: {', '.join(sorted(may_use))})", fix, {"forbidden": forbidden, "reads": sorted(req.reads)})


def check_columns(table: pa.Table, rules: SharingRules, segment: str) -> Check:
    extra = [c for c in table.column_names if c not in rules.export_columns]
    if not extra:
        return Check(COLUMNS, True, ", ".join(table.column_names))
    return Check(COLUMNS, False, f"columns {', '.join(extra)} may not leave the lake (allowed: "
                 f"{', '.join(rules.export_columns)})",
                 f"remove {', '.join(extra)} from `columns` of segment {segment}",
                 {"not_allowed": extra})


def check_consent(consent: pa.Array, rules: SharingRules, segment: str) -> Check:
    n = len(consent)
    without = n - int(pc.sum(pc.fill_null(consent, False)).as_py() or 0)
    if without == 0:
        return Check(CONSENT, True, f"all {n:,} members have {rules.consent_column}")
    return Check(CONSENT, False, f"{without:,} of {n:,} members have no {rules.consent_column} (only consented "
                 "members may appear in an export)", f"add `- consented: true` to the rules of segment {segment}",
                 {"members": n, "without_consent": without})


def check_minimum_size(members: int, rules: SharingRules, req: Request) -> Check:
    need, terms = minimum_size(rules, req.segment_minimum)
    why = ", ".join(f"{k} {v:,}" for k, v in terms.items())
    numbers = {"members": members, "minimum": need, **terms}
    if members >= need:
        return Check(MINIMUM_SIZE, True, f"{members:,} members >= {need:,} (strictest of {why})", numbers=numbers)
    return Check(MINIMUM_SIZE, False, f"{members:,} members, below the minimum of {need:,} (strictest of {why})",
                 f"widen the rules of segment {req.segment} (see `lake export {req.segment} --dry-run`)", numbers)


def check_arm_size(table: pa.Table, rules: SharingRules, req: Request) -> Check:
    k = rules.aggregate_cell_k
    arms = arm_counts(table)
    wanted = [TREATMENT, CONTROL] if req.holdout_share > 0 else [TREATMENT]
    small = {a: arms[a] for a in wanted if arms[a] < k}
    detail = ", ".join(f"{a} {arms[a]:,}" for a in wanted)  # control = the holdout
    if not small:
        return Check(ARM_SIZE, True, f"{detail} (each >= k {k})", numbers={**arms, "k": k})
    change = "raise" if CONTROL in small and TREATMENT not in small else "lower" if TREATMENT in small and \
        CONTROL not in small else "change"
    return Check(ARM_SIZE, False, f"{detail}: {', '.join(small)} below k {k}",
                 f"{change} --holdout (now {req.holdout_share}) or widen segment {req.segment}", {**arms, "k": k})


def arm_counts(table: pa.Table) -> dict[str, int]:
    if GROUP_COLUMN not in table.column_names:
        return {TREATMENT: table.num_rows, CONTROL: 0}
    counts = {r["values"]: r["counts"] for r in pc.value_counts(table[GROUP_COLUMN]).to_pylist()}
    return {TREATMENT: int(counts.get(TREATMENT, 0)), CONTROL: int(counts.get(CONTROL, 0))}


def check_request(req: Request, rules: SharingRules) -> list[Check]:
    """The rules that need no data: company and purpose known, the purpose allows every company the segment reads."""
    checks = [check_company(req, rules), check_purpose(req, rules)]
    if checks[1].ok:
        checks.append(check_purpose_data(req, rules))
    return checks


def check_candidates(table: pa.Table, consent: pa.Array, req: Request, rules: SharingRules) -> list[Check]:
    """The rules on what would be written: allowed columns, consent, minimum size, arm sizes."""
    return [
        check_columns(table, rules, req.segment),
        check_consent(consent, rules, req.segment),
        check_minimum_size(table.num_rows, rules, req),
        check_arm_size(table, rules, req),
    ]


def check_export(table: pa.Table, consent: pa.Array, req: Request, rules: SharingRules) -> list[Check]:
    """Every rule, in order (`ORDER`); the export is allowed only when all pass."""
    return check_request(req, rules) + check_candidates(table, consent, req, rules)


def refusals(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]
