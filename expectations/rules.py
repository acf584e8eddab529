"""The sharing rules (`sharing_rules.yml`): loaded once, read by every stage.

No rule is written twice in code: stages ask this module what is shared, what is PII, and
which patterns betray PII in free text (compiled for each engine by `expectations.pii`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from expectations import pii
from lake.config import sharing_rules_path
from lake.errors import LakeError


@dataclass(frozen=True)
class SharingRules:
    companies: dict[str, dict[str, Any]]
    pii_columns: frozenset[str]
    free_text_patterns: dict[str, str]
    value_patterns: dict[str, str]
    sharing: dict[str, dict[str, Any]]
    members: dict[str, str]
    consent_column: str
    aggregate_cell_k: int
    segment_export_min: int
    purposes: dict[str, dict[str, Any]]
    retention_days: dict[str, int | None]
    path: Path
    reference_data: tuple[str, ...] = ()
    export_columns: tuple[str, ...] = ()
    freshness: dict[str, Any] = field(default_factory=dict)
    volume: dict[str, Any] = field(default_factory=dict)

    def max_days_behind(self, company: str) -> int:
        return int(self.freshness.get("per_company", {}).get(company, self.freshness.get("max_days_behind", 2)))

    def shares(self, company: str, table: str) -> Any:
        """What `company` shares of `table` (False when the agreement does not list it)."""
        return self.sharing.get(company, {}).get(table, False)

    def may_feed(self, purpose: str, company: str) -> bool:
        if purpose not in self.purposes:
            raise LakeError(f"unknown purpose {purpose!r}", f"use one of {sorted(self.purposes)} ({self.path})")
        return company in self.purposes[purpose]["may_use"]

    def redact(self, text: str) -> tuple[str, list[str]]:
        """Free text with PII replaced by `[kind]` after NFKC, and the kinds found (Python, for small inputs)."""
        return pii.redact(text, self.free_text_patterns)


def load_rules(path: Path | None = None) -> SharingRules:
    """The sharing rules of `path`, by default the file in force (`lake.config.sharing_rules_path`)."""
    return _load(Path(path) if path else sharing_rules_path())


@cache
def _load(path: Path) -> SharingRules:
    """Parse the rules file; a malformed file names itself and the missing section."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = SharingRules(
            companies=spec["companies"],
            pii_columns=frozenset(spec["pii"]["columns"]),
            free_text_patterns=spec["pii"]["free_text_patterns"],
            value_patterns=spec["pii"]["value_patterns"],
            sharing=spec["sharing"],
            members=spec["members"],
            consent_column=spec["marketing"]["consent_column"],
            aggregate_cell_k=int(spec["minimum_cohort"]["aggregate_cell_k"]),
            segment_export_min=int(spec["minimum_cohort"]["segment_export_min"]),
            purposes=spec["purposes"],
            retention_days=spec["retention_days"],
            path=path,
            reference_data=tuple(spec.get("reference_data", ())),
            export_columns=tuple(spec["marketing"].get("export_columns", ())),
            freshness=spec.get("freshness") or {},
            volume=spec.get("volume") or {},
        )
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"sharing rules {path} cannot be read: {e!r}", "restore the file from git") from e
    for kind, pat in [*rules.free_text_patterns.items(), *rules.value_patterns.items()]:
        if why := pii.check_pattern(kind, pat):
            raise LakeError(f"sharing rules {path}: {why}",
                            "PII patterns must mean the same in DuckDB, Spark and Python: ASCII, classes like [0-9]")
    return rules
