"""Compile a contract into one DuckDB query that types every field and names the first rule a row breaks.

The query is pure SQL over a relation (`src`: the reader's Arrow stream, or a Parquet file), so
validation stays vectorised: no Python per row. Input columns: `_line` (source line or record
number), `_malformed` and `_detail` (a reason the reader already found, and what exactly, or null),
`_text` (the raw record, for rows the reader could not split or decode), and either one VARCHAR per
contract column (CSV, Parquet) or `_json` (JSON Lines). Output: the typed contract columns plus
`_line`, `_partition`, `_reason`, `_detail`, `_record` and `_pii` (the PII kinds redacted, or null).
The connection must know `session_setup` and `expectations.pii.duckdb_register` (NFKC for free-text PII).
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
READER_REASONS = ("line_too_long", "malformed_row", "bad_encoding", "malformed_json")
ROW_REASONS = (
    "field_too_long",
    "missing_required",
    "bad_gid",
    "unparseable_time",
    "invalid_date",
    "invalid_number",
    "invalid_value",
    "negative_amount",
    "future_date",
)
DUPLICATE_REASON = "duplicate_record"  # found after validation, across the whole file
FILE_REASONS = (
    "empty_file",
    "too_large",
    "line_too_long",
    "wrong_encoding",
    "truncated_file",
    "missing_columns",
    "extra_columns",
    "unreadable_file",
    "duplicate_file",
    "no_contract",
    "unexpected_location",
    "hidden_file",
    "gate_failed",  # the landing -> raw quality gate refused the file's rows (expectations/gates.py)
)
REDACTION_REASON = "pii_in_free_text"
RECORD_CHARS = 2000  # characters of a rejected record kept in quarantine

FUTURE_GRACE_DAYS = 2  # a daily extract may carry the early hours of the next day, not more


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def _luhn_table(doubled: set[int]) -> str:
    """SQL list: for every 3-digit chunk 000..999, the Luhn sum of its digits (`doubled`: positions doubled)."""
    def digit_sum(d: int, double: bool) -> int:
        x = 2 * d if double else d
        return x // 10 + x % 10

    sums = [sum(digit_sum(int(ch), i in doubled) for i, ch in enumerate(f"{v:03d}")) for v in range(1000)]
    return "[" + ",".join(map(str, sums)) + "]"


def session_setup(con) -> None:
    """What the compiled queries need on their DuckDB connection: the Luhn tables, set once per connection
    (as literals in every query they would cost more to plan than a small file costs to validate)."""
    # The 12 digits in four chunks of three: doubling falls on every second digit counting leftwards from
    # the one next to the check digit, i.e. positions 1, 3 | 5 | 7, 9 | 11 of 1..12.
    con.execute(f"SET VARIABLE lake_luhn_outer = {_luhn_table({0, 2})}")
    con.execute(f"SET VARIABLE lake_luhn_middle = {_luhn_table({1})}")


def luhn_ok_sql(n: str) -> str:
    """SQL that is true when the 12-digit number `n` (a BIGINT) ends in the Luhn check digit of the rest.

    Table lookups on 3-digit chunks (`session_setup`) instead of one division per digit: divisions dominate
    a per-digit formula (about 0.2 us a row), and every purchase line carries a gid.
    """
    hi, lo = f"CAST({n} // 1000000 AS INTEGER)", f"CAST({n} % 1000000 AS INTEGER)"
    chunks = [("lake_luhn_outer", f"{hi} // 1000"), ("lake_luhn_middle", f"{hi} % 1000"),
              ("lake_luhn_outer", f"{lo} // 1000"), ("lake_luhn_middle", f"{lo} % 1000")]
    return "((" + " + ".join(f"getvariable('{t}')[{c} + 1]" for t, c in chunks) + ") % 10 = 0)"


def fixed_offset_us(tz: str) -> int:
    """UTC offset of a zone in microseconds; only zones without daylight saving are accepted."""
    zone = ZoneInfo(tz)
    offsets = {zone.utcoffset(dt.datetime(2026, m, 1)) for m in (1, 4, 7, 10)}
    if len(offsets) != 1:
        raise LakeError(f"time zone {tz} has daylight saving time", "give the contract a fixed-offset zone")
    return int(offsets.pop().total_seconds() * 1_000_000)


def _raw(expr: str, trimmed: bool = False) -> str:
    """Trimmed text or NULL. The CSV reader already trims and turns empty values into nulls (in Arrow, only
    where a value needs it), so its columns pass as they are."""
    return expr if trimmed else f"nullif(trim(CAST({expr} AS VARCHAR)), '')"


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
    timestamps: list[str]  # output columns computed as naive UTC (the writer labels them UTC)


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
    source_sql: str | None = None,
) -> CompiledContract:
    """Build the validation query for one file.

    `future_limit` is the latest acceptable event time (UTC); `partition_value` is the snapshot
    value for snapshot feeds (date feeds derive theirs from the partition column).
    Three steps: trimmed VARCHARs (`__v_*`), typed values (`__t_*`), then the first broken rule.
    `source_sql` replaces the default source (`SELECT * FROM src`) for formats read by DuckDB itself.
    """
    tz = contract.timezone
    is_json = contract.format == "jsonl"
    pretrimmed = contract.format == "csv"  # see readers.tidy
    max_field = contract.limits.max_field_bytes
    raw_cols: list[str] = []  # step 1
    typed_cols: list[str] = []  # step 2
    checks: list[tuple[str, str, str]] = []  # (condition, reason, detail expression)
    pii_hits: list[str] = []
    too_long: list[tuple[str, str]] = []  # (condition, detail) per text field: checked first, as one rule

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
        too_long.append((f"strlen({v}) > {max_field}",
                         f"{lit(name + ': ')} || strlen({v}) || {lit(f' bytes (limit {max_field:,})')}"))
        if col.required:
            checks.append((f"{v} IS NULL", "missing_required", lit(name)))
        if col.type == "gid":
            n = q("__n_" + col.name)
            typed_cols.append(f"CASE WHEN regexp_full_match({v}, '[0-9]{{12}}') THEN CAST({v} AS BIGINT) END AS {n}")
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
        part_t = q("__t_" + contract.partition_column)
        local_us = f"epoch_us({part_t}) + {fixed_offset_us(tz)}"
        part_expr = f"CAST(make_timestamp({local_us}) AS DATE)"
        part_col = next(c for c in contract.columns if c.name == contract.partition_column)
        if not part_col.required:  # a row without a partition cannot land
            checks.append((f"{part_t} IS NULL", "missing_required", lit(contract.partition_column)))
    else:
        part_expr = lit(partition_value or batch_id)
    if too_long:  # one test for every field on the hot path; the detail then names the field
        any_long = "greatest(" + ", ".join(c.split(" > ")[0] for c, _ in too_long) + f") > {max_field}"
        detail_long = "CASE " + " ".join(f"WHEN {c} THEN {d}" for c, d in too_long) + " END"
        checks.insert(0, (any_long, "field_too_long", detail_long))
    # The first broken rule in ROW_REASONS order (columns in contract order within a reason) names the row.
    # Its position is computed once (`_rule`); the detail, for rejected rows only, picks that rule's text,
    # so no condition is written or evaluated twice.
    ordered = sorted(checks, key=lambda c: ROW_REASONS.index(c[1]))
    rule = "CASE WHEN _malformed IS NOT NULL THEN 0 " + " ".join(
        f"WHEN {cond} THEN {i}" for i, (cond, _, _) in enumerate(ordered, 1)) + " END"
    names = "[" + ", ".join(lit(r) for _, r, _ in ordered) + "]" if ordered else "CAST([] AS VARCHAR[])"
    reason = f"CASE WHEN _rule = 0 THEN _malformed WHEN _rule > 0 THEN {names}[_rule] END"
    detail = "CASE _rule WHEN 0 THEN _rdetail " + " ".join(
        f"WHEN {i} THEN {d}" for i, (_, _, d) in enumerate(ordered, 1)) + " END"
    if pii_hits:
        found = f"list_filter([{', '.join(pii_hits)}], x -> x IS NOT NULL)"
        pii = f"CASE WHEN len({found}) > 0 THEN {found} END"
    else:
        pii = "CAST(NULL AS VARCHAR[])"
    if is_json:
        source = (
            f"SELECT _line, _detail, _text, _json, CASE WHEN _malformed IS NULL AND NOT json_valid(_json) "
            f"THEN 'malformed_json' ELSE _malformed END AS _malformed, "
            f"CASE WHEN _malformed IS NULL AND json_valid(_json) "
            f"THEN from_json(_json, {lit(_json_structure(contract))}) END AS j FROM src"
        )
        record = "rtrim(_json, chr(13) || chr(10))"
    else:
        source = source_sql or "SELECT * FROM src"
        record = "concat_ws(',', " + ", ".join(
            f"coalesce({q('__v_' + c.name)}, '')" for c in contract.columns if c.type != "list") + ")"
    outputs = ", ".join(f"{q('__t_' + c.name)} AS {q(c.name)}" for c in contract.columns)
    sql = f"""
    WITH source AS ({source}),
    trimmed AS (SELECT _line, _malformed, _detail AS _rdetail, _text, {"_json, " if is_json else ""}
                {", ".join(raw_cols)} FROM source),
    typed AS (SELECT *, {", ".join(typed_cols)} FROM trimmed),
    ruled AS (SELECT *, {rule} AS _rule FROM typed),
    checked AS (SELECT *, {reason} AS _reason FROM ruled)
    SELECT _line, {outputs},
           {part_expr} AS _partition,
           _reason,
           CASE WHEN _reason IS NOT NULL THEN {detail} END AS _detail,
           CASE WHEN _reason IS NOT NULL THEN left(coalesce(_text, {record}), {RECORD_CHARS}) END AS _record,
           {pii} AS _pii
    FROM checked
    """
    timestamps = [c.name for c in contract.columns if c.type == "timestamp"]
    return CompiledContract(sql=sql, output_columns=[c.name for c in contract.columns], timestamps=timestamps)
