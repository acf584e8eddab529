"""Extract contracts: declarative descriptions of each company's files, and their loader.

A contract names the file pattern, format, encoding, time zone, tax handling, partitioning and
columns (source name, raw-zone name, type and rules). Adding a company is adding a contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lake.config import CONTRACTS_DIR
from lake.errors import LakeError

TYPES = {"string", "int", "float", "bool", "date", "timestamp", "gid", "list"}
FORMATS = {"csv", "jsonl", "parquet"}
ENCODINGS = {"utf-8", "utf-8-sig", "cp932"}


@dataclass(frozen=True)
class Column:
    """One field of an extract: where it comes from, what it becomes, and its rules."""

    name: str
    source: str
    type: str
    required: bool = False
    format: str | None = None  # timestamp/date: strftime pattern, `iso8601`, `epoch_ms` or `auto`
    values: tuple[str, ...] | None = None  # accepted source values
    mapping: dict[str, str] | None = None  # source value -> raw-zone value
    pattern: str | None = None  # full-match regex
    non_negative: bool = False
    not_future: bool = False
    free_text: bool = False  # scanned for PII, which is redacted
    fields: tuple[Column, ...] = ()  # for type `list`: the fields of each element


@dataclass(frozen=True)
class Contract:
    company: str  # a company code, or `any` for masters every company sends
    feed: str
    description: str
    pattern: str
    format: str
    encoding: str
    compression: str | None
    timezone: str
    partition_by: str  # `date` (JST date of partition_column) or `snapshot`
    partition_column: str | None
    tax: Any
    columns: tuple[Column, ...]
    path: Path = field(compare=False)

    @property
    def required_sources(self) -> list[str]:
        return [c.source for c in self.columns if c.required]

    def match(self, filename: str) -> re.Match[str] | None:
        return re.fullmatch(self.pattern, filename)

    def applies_to(self, company: str) -> bool:
        return self.company in ("any", company)


def _column(spec: dict[str, Any], where: str) -> Column:
    try:
        name = spec["name"]
        ctype = spec["type"]
    except KeyError as e:
        raise LakeError(f"{where}: a column lacks `{e.args[0]}`", "every column needs name and type") from e
    if "pii" in spec:
        raise LakeError(f"{where}: column {name} says `pii`", "PII columns are listed once, in "
                        "expectations/sharing_rules.yml (pii.columns); remove `pii` from the contract")
    if ctype not in TYPES:
        raise LakeError(f"{where}: column {name} has unknown type {ctype!r}", f"use one of {sorted(TYPES)}")
    values = spec.get("values")
    mapping = dict(values) if isinstance(values, dict) else None
    return Column(
        name=name,
        source=spec.get("source", name),
        type=ctype,
        required=bool(spec.get("required", False)),
        format=spec.get("format"),
        values=tuple(values) if values is not None else None,
        mapping=mapping,
        pattern=spec.get("pattern"),
        non_negative=bool(spec.get("non_negative", False)),
        not_future=bool(spec.get("not_future", False)),
        free_text=bool(spec.get("free_text", False)),
        fields=tuple(_column(f, f"{where}.{name}") for f in spec.get("fields", ())),
    )


def load_contract(path: Path) -> Contract:
    """Read and check one contract file; errors name the file and the field."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        f = spec["file"]
        contract = Contract(
            company=spec["company"],
            feed=spec["feed"],
            description=spec.get("description", ""),
            pattern=f["pattern"],
            format=f["format"],
            encoding=f.get("encoding", "utf-8"),
            compression=f.get("compression"),
            timezone=spec.get("timezone", "Asia/Tokyo"),
            partition_by=spec["partition"]["by"],
            partition_column=spec["partition"].get("column"),
            tax=spec.get("tax"),
            columns=tuple(_column(c, path.name) for c in spec["columns"]),
            path=path,
        )
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"contract {path} is malformed: {e!r}",
                        "compare it with ingestion/contracts/cvs_pos.yml") from e
    if contract.format not in FORMATS:
        raise LakeError(f"contract {path.name}: unknown format {contract.format}", f"use one of {sorted(FORMATS)}")
    if contract.format != "parquet" and contract.encoding not in ENCODINGS:
        raise LakeError(f"contract {path.name}: unknown encoding {contract.encoding}", f"use {sorted(ENCODINGS)}")
    if contract.partition_by == "date":
        names = {c.name for c in contract.columns}
        if contract.partition_column not in names:
            raise LakeError(f"contract {path.name}: partition column {contract.partition_column} is not a column")
    return contract


def load_contracts(folder: Path = CONTRACTS_DIR) -> list[Contract]:
    """Every contract, in a stable order."""
    return [load_contract(p) for p in sorted(folder.glob("*.yml"))]


def find_contract(contracts: list[Contract], company: str, feed: str, filename: str) -> Contract | None:
    """The contract for a landed file, or None when no contract claims it."""
    for c in contracts:
        if c.applies_to(company) and c.feed == feed and c.match(filename):
            return c
    return None

