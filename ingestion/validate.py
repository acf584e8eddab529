"""Compile a contract into one DuckDB query that types every field and names the first rule a row breaks.

The query is pure SQL over an Arrow batch (`src`), so validation stays vectorised: no Python per row.
The connection must know `expectations.pii.duckdb_register` (NFKC for free-text PII).
Input columns: `_line` (source line or record number), `_malformed` (a reason the reader already
found, or null), `_text` (the raw record, for rows the reader could not split), and either one
VARCHAR per contract column (CSV, Parquet) or `_json` (JSON Lines).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from expectations import pii as pii_rules
from expectations.rules import SharingRules
from ingestion.contracts import Column, Contract
from lake.errors import LakeError

# Reason codes, in the order rules are checked. Documented in the README.
READER_REASONS = ("malformed_row", "bad_encoding", "malformed_json")
ROW_REASONS = (
    "missing_required",
    "bad_gid",
    "unparseable_time",
    "invalid_date",
    "invalid_number",
    "invalid_value",
    "negative_amount",
    "future_date",
)
FILE_REASONS = (
    "wrong_encoding",
    "truncated_file",
    "missing_columns",
    "extra_columns",
    "unreadable_file",
    "duplicate_file",
    "no_contract",
)
REDACTION_REASON = "pii_in_free_text"

FUTURE_GRACE_DAYS = 2  # a daily extract may carry the early hours of the next day, not more


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def luhn_ok_sql(n: str) -> str:
    """SQL that is true when the 12-digit number `n` (a BIGINT) ends in the Luhn check digit of the rest."""
    terms = []
    for pos in range(1, 12):
        d = f"({n} // {10 ** (12 - pos)} % 10)"
        # Doubling starts at the digit next to the check digit (position 11) and alternates leftwards;
        # the list maps a digit to its doubled digit sum.
        terms.append(f"[0, 2, 4, 6, 8, 1, 3, 5, 7, 9][{d} + 1]" if pos % 2 == 1 else d)
    return f"((10 - ({' + '.join(terms)}) % 10) % 10 = {n} % 10)"


def fixed_offset_us(tz: str) -> int:
    """UTC offset of a zone in microseconds; only zones without daylight saving are accepted."""
    zone = ZoneInfo(tz)
    offsets = {zone.utcoffset(dt.datetime(2026, m, 1)) for m in (1, 4, 7, 10)}
    if len(offsets) != 1:
        raise LakeError(f"time zone {tz} has daylight saving time", "give the contract a fixed-offset zone")
    return int(offsets.pop().total_seconds() * 1_000_000)


def _raw(expr: str, trimmed: bool = False) -> str:
    """Trimmed text or NULL. DuckDB's trim is slow on wide files, so CSV readers trim in Arrow first."""
    return f"nullif(CAST({expr} AS VARCHAR), '')" if trimmed else f"nullif(trim(CAST({expr} AS VARCHAR)), '')"


def _typed(col: Column, v: str, tz: str) -> str:
    """The raw-zone value of a column from its trimmed VARCHAR `v`."""
    t = col.type
    if t in ("string", "gid"):
        if col.mapping:
            whens = " ".join(f"WHEN {lit(k)} THEN {lit(m)}" for k, m in col.mapping.items())
            return f"(CASE {v} {whens} END)"
        return v
    if t == "int":
        return f"try_cast({v} AS BIGINT)"
    if t == "float":
        return f"try_cast({v} AS DOUBLE)"
    if t == "bool":
        return (f"(CASE lower({v}) WHEN 'true' THEN true WHEN '1' THEN true "
                f"WHEN 'false' THEN false WHEN '0' THEN false END)")
    if t == "date":
        if col.format:
            return f"CAST(try_strptime({v}, {lit(col.format)}) AS DATE)"
        return f"try_cast({v} AS DATE)"
    if t == "timestamp":
        # Timestamps are computed as naive UTC (fast integer arithmetic, no time-zone library on the
        # hot path); the engine labels them UTC when writing Parquet.
        fmt = col.format or "auto"
        off = fixed_offset_us(tz)
        from_offset = f"make_timestamp(epoch_us(try_cast({v} AS TIMESTAMPTZ)))"
        has_offset = rf"regexp_matches({v}, '(Z|[+-]\d\d:?\d\d)$')"
        if fmt == "iso8601":
            return f"(CASE WHEN {has_offset} THEN {from_offset} END)"
        if fmt == "epoch_ms":
            return f"make_timestamp(try_cast({v} AS BIGINT) * 1000)"
        local = f"try_cast({v} AS TIMESTAMP)" if fmt == "auto" else f"try_strptime({v}, {lit(fmt)})"
        from_local = f"make_timestamp(epoch_us({local}) - {off})"
        if fmt == "auto":
            return f"(CASE WHEN {has_offset} THEN {from_offset} ELSE {from_local} END)"
        return from_local
    raise ValueError(f"no scalar typing for {t}")


@dataclass(frozen=True)
class CompiledContract:
    sql: str
    output_columns: list[str]  # raw-zone columns, in contract order
    # Columns the query does not return because the reader's (trimmed, empty-as-null) text is already
    # the raw-zone value: the engine takes them from the input batch, saving a copy of every string.
    passthrough: list[str]


def _json_structure(contract: Contract) -> str:
    """from_json structure: every scalar as VARCHAR, so typing and errors stay in our SQL."""
    root: dict = {}
    for col in contract.columns:
        node = root
        parts = col.source.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = [{f.source: "VARCHAR" for f in col.fields}] if col.type == "list" else "VARCHAR"
    return json.dumps(root, ensure_ascii=False)


def compile_contract(
    contract: Contract,
    rules: SharingRules,
    *,
    batch_id: str,
    future_limit: dt.datetime,
    partition_value: str | None,
) -> CompiledContract:
    """Build the validation query for one file.

    `future_limit` is the latest acceptable event time (UTC); `partition_value` is the snapshot
    value for snapshot feeds (date feeds derive theirs from the partition column).
    Three steps: trimmed VARCHARs (`__v_*`), typed values (`__t_*`), then the first broken rule.
    """
    tz = contract.timezone
    is_json = contract.format == "jsonl"
    pretrimmed = contract.format == "csv"  # see readers._assemble
    raw_cols: list[str] = []  # step 1
    typed_cols: list[str] = []  # step 2
    checks: list[tuple[str, str, str]] = []  # (condition, reason, detail expression)
    pii_hits: list[str] = []

    def source_expr(col: Column) -> str:
        if is_json:
            return "j" + "".join(f"[{lit(p)}]" for p in col.source.split("."))
        return q(col.name)

    for col in contract.columns:
        name, v, t = col.name, q("__v_" + col.name), q("__t_" + col.name)
        if col.type == "list":
            raw_cols.append(f"{source_expr(col)} AS {v}")
            fields = ", ".join(f"{q(f.name)} := {_typed(f, _raw('x[' + lit(f.source) + ']'), tz)}" for f in col.fields)
            typed_cols.append(f"list_transform({v}, x -> struct_pack({fields})) AS {t}")
            if col.required:
                checks.append((f"{v} IS NULL OR len({v}) = 0", "missing_required", lit(name)))
            for f in col.fields:
                raw_f = _raw("x[" + lit(f.source) + "]")
                typed_f = _typed(f, raw_f, tz)
                bad_type = "invalid_number" if f.type in ("int", "float") else "invalid_value"
                checks.append((f"list_bool_or(list_transform({v}, x -> {raw_f} IS NOT NULL AND {typed_f} IS NULL))",
                               bad_type, lit(f"{name}.{f.name}")))
                if f.non_negative:
                    checks.append((f"list_bool_or(list_transform({t}, x -> x[{lit(f.name)}] < 0))",
                                   "negative_amount", lit(f"{name}.{f.name}")))
            continue

        raw_cols.append(f"{_raw(source_expr(col), pretrimmed)} AS {v}")
        typed = _typed(col, v, tz)
        if col.free_text:  # PII after NFKC (the rules' patterns, compiled by expectations.pii)
            typed = pii_rules.duckdb_redact(typed, rules.free_text_patterns)
            pii_hits.extend(pii_rules.duckdb_kinds(v, rules.free_text_patterns))
        typed_cols.append(f"{typed} AS {t}")
        detail = f"{lit(name + '=')} || coalesce(left({v}, 60), '')"
        if col.required:
            checks.append((f"{v} IS NULL", "missing_required", lit(name)))
        if col.type == "gid":
            n = q("__n_" + col.name)
            raw_cols.append(f"CASE WHEN regexp_full_match({_raw(source_expr(col), pretrimmed)}, '[0-9]{{12}}') "
                            f"THEN CAST({_raw(source_expr(col), pretrimmed)} AS BIGINT) END AS {n}")
            checks.append((f"{v} IS NOT NULL AND ({n} IS NULL OR NOT {luhn_ok_sql(n)})", "bad_gid", detail))
        elif col.type in ("timestamp", "date", "int", "float", "bool"):
            reason = {"timestamp": "unparseable_time", "date": "invalid_date", "bool": "invalid_value"}.get(
                col.type, "invalid_number")
            checks.append((f"{v} IS NOT NULL AND {t} IS NULL", reason, detail))
        if col.values is not None:
            allowed = ", ".join(lit(x) for x in col.values)
            checks.append((f"{v} IS NOT NULL AND {v} NOT IN ({allowed})", "invalid_value", detail))
        if col.pattern:
            checks.append((f"{v} IS NOT NULL AND NOT regexp_full_match({v}, {lit(col.pattern)})",
                           "invalid_value", detail))
        if col.non_negative:
            checks.append((f"{t} < 0", "negative_amount", detail))
        if col.not_future:
            limit = lit(future_limit.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))
            checks.append((f"{t} > TIMESTAMP {limit}", "future_date", detail))

    if contract.partition_by == "date":
        local_us = f"epoch_us({q('__t_' + contract.partition_column)}) + {fixed_offset_us(tz)}"
        part_expr = f"CAST(make_timestamp({local_us}) AS DATE)"
    else:
        part_expr = lit(partition_value or batch_id)
    reason = "CASE WHEN _malformed IS NOT NULL THEN _malformed " + " ".join(
        f"WHEN {cond} THEN {lit(r)}" for cond, r, _ in checks) + " END"
    detail = "CASE WHEN _malformed IS NOT NULL THEN NULL " + " ".join(
        f"WHEN {cond} THEN {d}" for cond, _, d in checks) + " END"
    pii = f"list_filter([{', '.join(pii_hits)}], x -> x IS NOT NULL)" if pii_hits else "CAST(NULL AS VARCHAR[])"
    if is_json:
        source = (
            f"SELECT _line, _text, _json, CASE WHEN _malformed IS NULL AND NOT json_valid(_json) "
            f"THEN 'malformed_json' ELSE _malformed END AS _malformed, "
            f"CASE WHEN _malformed IS NULL AND json_valid(_json) "
            f"THEN from_json(_json, {lit(_json_structure(contract))}) END AS j FROM src"
        )
        record = "_json"
    else:
        source = "SELECT * FROM src"
        record = "concat_ws(',', " + ", ".join(
            f"coalesce({q('__v_' + c.name)}, '')" for c in contract.columns if c.type != "list") + ")"
    passthrough = [c.name for c in contract.columns
                   if pretrimmed and c.type in ("string", "gid") and not c.mapping and not c.free_text]
    outputs = ", ".join(f"{q('__t_' + c.name)} AS {q(c.name)}" for c in contract.columns
                        if c.name not in passthrough) or "NULL AS _none"
    sql = f"""
    WITH source AS ({source}),
    trimmed AS (SELECT _line, _malformed, _text, {"_json, " if is_json else ""}{", ".join(raw_cols)} FROM source),
    typed AS (SELECT *, {", ".join(typed_cols)} FROM trimmed),
    checked AS (SELECT *, {reason} AS _reason FROM typed)
    SELECT _line, {outputs},
           {part_expr} AS _partition,
           _reason,
           CASE WHEN _reason IS NOT NULL THEN {detail} END AS _detail,
           CASE WHEN _reason IS NOT NULL THEN coalesce(_text, {record}) END AS _record,
           {pii} AS _pii
    FROM checked
    """
    return CompiledContract(sql=sql, output_columns=[c.name for c in contract.columns], passthrough=passthrough)
