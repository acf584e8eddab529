"""Extract contracts: declarative descriptions of each company's files, and their loader.

A contract names the file pattern, format, encoding, time zone, tax handling, partitioning,
columns (source name, raw-zone name, type and rules), what an undeclared extra column does
(`extra_columns`), which records are duplicates of each other (`duplicates`) and the size limits
(`limits`, defaults below). Adding a company is adding a contract.
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
# What an undeclared column does: `land_declared` lands the declared columns, never the others (they
# may hold PII), and records the drift; `reject` quarantines the whole file as `extra_columns`.
EXTRA_COLUMN_POLICIES = ("land_declared", "reject")

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds on what one file may make ingestion do; beyond them the input gets its own reason code."""

    max_file_bytes: int = 2048 * MiB  # expanded (after gunzip) size of a file: beyond it `too_large`
    max_gzip_ratio: float = 100.0  # expanded / compressed, checked past 16 MiB: beyond it `too_large` (a bomb)
    max_line_bytes: int = 1 * MiB  # one line (one record of CSV or JSON Lines): beyond it `line_too_long`
    max_field_bytes: int = 64 * 1024  # one field's text: beyond it `field_too_long`
    # Share of undecodable records past which the file is in another encoding (`wrong_encoding`),
    # checked once at least `min_records_for_encoding` records were read (and at the end of the file).
    max_bad_encoding_share: float = 0.1
    min_records_for_encoding: int = 20

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None, where: str) -> Limits:
        spec = dict(spec or {})
        unknown = sorted(set(spec) - set(cls.__dataclass_fields__))
        if unknown:
            raise LakeError(f"{where}: unknown limits {unknown}", f"use {sorted(cls.__dataclass_fields__)}")
        return cls(**spec)


@dataclass(frozen=True)
class Duplicates:
    """Which records of one file repeat each other; the later one is quarantined as `duplicate_record`.

    `key`: the columns that identify a record (a repeated key is a duplicate). `receipt`: for feeds
    whose lines carry no line number (cvs, sm), the column naming the receipt: a receipt whose lines
    appear in two separate runs is repeated, identical lines inside one run are two real items.
    """

    key: tuple[str, ...] = ()
    receipt: str | None = None


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
    extra_columns: str = "land_declared"
    duplicates: Duplicates = field(default_factory=Duplicates)
    limits: Limits = field(default_factory=Limits)

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
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
            extra_columns=spec.get("extra_columns", "land_declared"),
            duplicates=Duplicates(key=tuple(spec.get("duplicates", {}).get("key", ())),
                                  receipt=spec.get("duplicates", {}).get("receipt")),
            limits=Limits.from_spec(spec.get("limits"), path.name),
        )
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise LakeError(f"contract {path} is malformed: {e!r}",
                        "compare it with ingestion/contracts/cvs_pos.yml") from e
    if contract.format not in FORMATS:
        raise LakeError(f"contract {path.name}: unknown format {contract.format}", f"use one of {sorted(FORMATS)}")
    if contract.format != "parquet" and contract.encoding not in ENCODINGS:
        raise LakeError(f"contract {path.name}: unknown encoding {contract.encoding}", f"use {sorted(ENCODINGS)}")
    names = {c.name for c in contract.columns}
    if contract.partition_by == "date" and contract.partition_column not in names:
        raise LakeError(f"contract {path.name}: partition column {contract.partition_column} is not a column")
    if contract.extra_columns not in EXTRA_COLUMN_POLICIES:
        raise LakeError(f"contract {path.name}: extra_columns {contract.extra_columns!r} is not a policy",
                        f"use one of {list(EXTRA_COLUMN_POLICIES)}")
    dup = contract.duplicates
    unknown = [c for c in (*dup.key, *([dup.receipt] if dup.receipt else [])) if c not in names]
    if unknown or (dup.key and dup.receipt):
        raise LakeError(f"contract {path.name}: duplicates names {unknown or 'both key and receipt'}",
                        "give `duplicates` either `key: [columns]` or `receipt: column`, of declared columns")
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

