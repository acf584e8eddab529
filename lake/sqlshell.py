"""`lake sql`: the analyst's seat on the marts. One query, a script on stdin, or a prompt.

Every statement gets a result or a one-line error, never a traceback. Only reading statements run
(SELECT, WITH, FROM, TABLE, VALUES, DESCRIBE, SHOW, SUMMARIZE, PIVOT, EXPLAIN); anything that would
change something is refused here with a message saying why, and would be refused by DuckDB too (the
connection is `lake.analyst.connect`: the marts attached read-only, no file access, settings locked).
The prompt has line editing and history (readline; the history file is in the state folder) and knows
`.tables`, `.describe MART` (also `describe MART`), `help`, `exit` and `quit`.

Results print as a table fitted to the terminal; piped, or with `--format`, every row and column is
written (`table`, `csv`, `json`, `markdown`). CSV cells are escaped against formulas (`lake.safe_csv`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import io
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb

from lake import safe_csv
from lake.analyst import CATALOG, connect
from lake.config import state_dir
from lake.errors import LakeError
from lake.layout import MARTS
from lake.storage import Lake

FORMATS = ("table", "csv", "json", "markdown")
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown", ".txt": "table"}
TTY_ROWS = 40  # rows a terminal shows of a result (first and last); piped output has them all
BATCH = 10_000
PROMPT, MORE = "lake> ", "  ..> "
QUIT = {"exit", "quit", ".exit", ".quit", r"\q"}
HELP = """\
  SQL ending with ;         run it (only queries: SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, PIVOT, EXPLAIN)
  .tables                   the marts: rows, columns, description
  .describe MART            its columns, types and descriptions (also: describe MART)
  help                      this text
  exit, quit or Ctrl-D      leave (Ctrl-C cancels the statement being typed or run)
The marts are read-only and nothing outside them is reachable from here. Up and down arrows recall
earlier lines (history kept in the state folder). Piped, `lake sql` prints every row and column;
`lake sql QUERY --format csv --output FILE` writes a result for a spreadsheet."""

_T = duckdb.StatementType
_READING = {_T.SELECT, _T.EXPLAIN}
_CHANGING = {_T.CREATE, _T.DROP, _T.ALTER, _T.INSERT, _T.UPDATE, _T.DELETE, _T.MERGE_INTO, _T.COPY,
             _T.COPY_DATABASE, _T.EXPORT, _T.VACUUM, _T.ANALYZE, _T.CREATE_FUNC}
_DESCRIBE = re.compile(r"^(?:\.describe|describe|desc)\s+(?:marts\.(?:main\.)?)?\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*;?$",
                       re.IGNORECASE)


class Refused(Exception):
    """A statement `lake sql` does not run; the message says why in one line."""


@dataclass
class Shell:
    """One analyst session: the connection, where results go, and how they are written."""

    con: duckdb.DuckDBPyConnection
    lake: Lake
    fmt: str = "table"
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    tty: bool = False  # results go to a terminal: fit them to its size
    failures: int = 0
    rows: int | None = None  # rows of the last result written (None: not counted, a terminal table)

    # --- what the session knows --------------------------------------------------------------

    def marts(self) -> list[str]:
        rows = self.con.execute(
            f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{CATALOG}' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def columns(self) -> list[str]:
        rows = self.con.execute(
            f"SELECT DISTINCT column_name FROM duckdb_columns() WHERE database_name = '{CATALOG}'"
        ).fetchall()
        return sorted(r[0] for r in rows)

    def banner(self) -> str:
        names = self.marts()
        return (f"{len(names)} marts of {self.lake.uri(MARTS)}, read-only: {', '.join(names)}\n"
                "End SQL with ;   .tables lists the marts, .describe MART shows one, help for more; "
                "exit, quit or Ctrl-D to leave.")

    # --- running input -----------------------------------------------------------------------

    def handle(self, text: str) -> bool | None:
        """Run one command or SQL text; False when it failed, None for `exit`/`quit`."""
        stripped = text.strip()
        word = stripped.rstrip(";").strip()
        if word.lower() in QUIT:
            return None
        if not word:
            return True
        try:
            if word.lower() in ("help", ".help", "?"):
                print(HELP, file=self.out)
            elif word.lower() == ".tables":
                self._tables()
            elif (m := _DESCRIBE.match(stripped)) and (stripped.startswith(".") or m.group(1).lower() in self.marts()):
                self._describe(m.group(1).lower())
            elif word.startswith("."):
                raise Refused(f"unknown command {word.split()[0]}; `help` lists the commands")
            else:
                self.run_sql(stripped)
            return True
        except KeyboardInterrupt:
            self._error("interrupted")
        except Refused as e:
            self._error(str(e))
        except duckdb.Error as e:
            self._error(_one_line(e))
        except Exception as e:  # never a traceback for an analyst's statement
            if os.environ.get("LAKE_DEBUG"):
                raise
            self._error(f"{type(e).__name__}: {_one_line(e)}")
        return False

    def run_sql(self, text: str) -> None:
        """Check every statement of `text`, then run them in order, writing each result."""
        statements = self.con.extract_statements(text)
        for stmt in statements:
            check(stmt)
        for stmt in statements:
            if stmt.type in _READING:
                self.write(self.con.sql(stmt))
            else:
                self.con.execute(stmt)  # PIVOT's own enum type, in this session's memory

    def _tables(self) -> None:
        self.write(self.con.sql(
            f"SELECT table_name AS mart, estimated_size AS rows, column_count AS columns, comment AS description "
            f"FROM duckdb_tables() WHERE database_name = '{CATALOG}' ORDER BY 1"))

    def _describe(self, name: str) -> None:
        if name not in self.marts():
            raise Refused(f"no mart named {name}; .tables lists them")
        self.write(self.con.sql(
            f"SELECT column_name AS column, data_type AS type, comment AS description FROM duckdb_columns() "
            f"WHERE database_name = '{CATALOG}' AND table_name = '{name}' ORDER BY column_index"))

    def _error(self, message: str) -> None:
        self.failures += 1
        print(f"error: {message}", file=self.err, flush=True)

    # --- writing results ---------------------------------------------------------------------

    def write(self, rel: duckdb.DuckDBPyRelation | None) -> int | None:
        """Write a result in the session's format; returns the rows written (None for a terminal table)."""
        self.rows = 0 if rel is None else write_result(rel, self.fmt, self.out, self.tty)
        return self.rows


def check(stmt: duckdb.Statement) -> None:
    """Refuse, with a reason, a statement that is not a query."""
    if stmt.type in _READING:
        return
    if stmt.type == _T.CREATE and not stmt.query.strip():
        return  # generated by DuckDB for PIVOT (an enum type in session memory), not typed by the analyst
    kind = stmt.type.name.replace("_", " ")
    if stmt.type in _CHANGING:
        raise Refused(f"{kind} refused: the marts are read-only (`lake build` rebuilds them) and lake sql writes "
                      "nothing; it runs queries only")
    if stmt.type in (_T.SET, _T.VARIABLE_SET):
        raise Refused(f"{kind} refused: the settings of the analyst connection are fixed")
    if stmt.type in (_T.ATTACH, _T.DETACH):
        raise Refused(f"{kind} refused: lake sql reaches the marts and nothing else")
    if stmt.type == _T.LOAD:
        raise Refused("INSTALL and LOAD refused: extensions cannot be added to the analyst connection")
    raise Refused(f"{kind} refused: lake sql runs queries only (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, "
                  "PIVOT, EXPLAIN)")


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


# --- formats -----------------------------------------------------------------------------------


def write_result(rel: duckdb.DuckDBPyRelation, fmt: str, out: TextIO, tty: bool = False) -> int | None:
    """Write `rel` to `out` as `fmt`: every row and column, except a `table` on a terminal (fitted to it)."""
    if fmt == "table":
        width = shutil.get_terminal_size().columns if tty else 10**9
        rows = TTY_ROWS if tty else 10**12
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):  # DuckDB's renderer prints through Python's stdout
            rel.show(max_width=width, max_rows=rows, max_col_width=None if tty else 10**9, null_value="NULL")
        out.write(buf.getvalue())
        out.flush()
        return None
    header = list(rel.columns)
    rows = _rows(rel)
    if fmt == "csv":
        return safe_csv.write_csv(out, header, rows)
    if fmt == "json":
        return _write_json(out, header, rows)
    if fmt == "markdown":
        return _write_markdown(out, header, [t.lower() for t in map(str, rel.types)], rows)
    raise LakeError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")


def _rows(rel: duckdb.DuckDBPyRelation) -> Iterator[tuple]:
    res = rel.execute()
    while batch := res.fetchmany(BATCH):
        yield from batch


def _write_json(out: TextIO, header: list[str], rows: Iterable[tuple]) -> int:
    """A JSON array of objects, one per line, streamed."""
    n = 0
    out.write("[")
    for row in rows:
        out.write(("," if n else "") + "\n" + json.dumps(dict(zip(header, map(json_value, row), strict=True)),
                                                          ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


_NUMERIC = re.compile(r"^(tinyint|smallint|integer|bigint|hugeint|utinyint|usmallint|uinteger|ubigint|float|double|"
                      r"decimal.*)$")


def _write_markdown(out: TextIO, header: list[str], types: list[str], rows: Iterable[tuple]) -> int:
    def md(value: Any) -> str:
        return safe_csv.text(value).replace("|", r"\|").replace("\r", "").replace("\n", "<br>")

    out.write("| " + " | ".join(md(h) for h in header) + " |\n")
    out.write("|" + "|".join("---:" if _NUMERIC.match(t) else "---" for t in types) + "|\n")
    n = 0
    for row in rows:
        out.write("| " + " | ".join(md(v) for v in row) + " |\n")
        n += 1
    return n


def json_value(value: Any) -> Any:
    """A value as plain JSON: dates in ISO 8601, decimals as numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return safe_csv.text(value)


# --- output files ------------------------------------------------------------------------------


def output_format(path: str, fmt: str | None) -> str:
    """The format for `--output path`: `--format` if given, else from the suffix, else CSV."""
    return fmt or SUFFIX_FORMATS.get(Path(path).suffix.lower(), "csv")


def check_output(path: str, lake: Lake) -> Path:
    """The local file `--output` may write: never inside the lake, never a URL, in an existing folder."""
    if "://" in path:
        raise LakeError(f"--output {path} is not a local file", "write the result to a file on this machine")
    target = Path(path).expanduser().resolve()
    if not lake.is_s3:
        root = Path(lake.cfg.uri).resolve()
        if target == root or root in target.parents:
            raise LakeError(f"--output {path} is inside the lake ({root})",
                            "write results outside the lake: the lake's zones are written by its jobs only")
    if target.is_dir():
        raise LakeError(f"--output {path} is a folder", "give a file name, e.g. result.csv")
    if not target.parent.is_dir():
        raise LakeError(f"--output {path}: the folder {target.parent} does not exist", "create it first")
    return target


def _to_file(shell: Shell, query: str, target: Path) -> int:
    """Run `query` into `target`: the file appears complete, or not at all when the query fails."""
    tmp = target.with_name(f".{target.name}.partial")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            shell.out = f
            ok = shell.handle(query) is not False
        if ok:
            os.replace(tmp, target)
            rows = "" if shell.rows is None else f"{shell.rows:,} rows "
            print(f"wrote {rows}to {target}", file=shell.err)
    finally:
        tmp.unlink(missing_ok=True)
    return 0 if ok else 1


# --- entry points ------------------------------------------------------------------------------


def run(lake: Lake, query: str | None = None, fmt: str | None = None, output: str | None = None) -> int:
    """`lake sql`: one query (or command), a script from stdin, or the prompt. Returns the exit status."""
    if fmt is not None and fmt not in FORMATS:
        raise LakeError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if output is not None and query is None:
        raise LakeError("--output needs a QUERY", 'e.g. lake sql "select * from mart_rfm" --output rfm.csv')
    target = check_output(output, lake) if output is not None else None
    con = connect(lake)
    if target is not None:
        return _to_file(Shell(con, lake, output_format(target.name, fmt)), query or "", target)
    shell = Shell(con, lake, fmt or "table", tty=sys.stdout.isatty() and fmt is None)
    if query is not None:
        return 0 if shell.handle(query) is not False else 1
    if sys.stdin.isatty():
        prompt(shell)
        return 0
    script(shell, sys.stdin)
    return 1 if shell.failures else 0


def is_command(line: str) -> bool:
    """A line that is a command of its own (no `;` needed): exit, help, a dot command, `describe MART`."""
    word = line.strip().rstrip(";").strip().lower()
    return word in QUIT or word in ("help", "?") or word.startswith(".") or bool(_DESCRIBE.match(line.strip()))


def statements(lines: Iterable[str]) -> Iterator[str]:
    """Group input lines into commands and `;`-terminated statements (a command is one line of its own)."""
    buf: list[str] = []
    for line in lines:
        if not buf:
            if not line.strip():
                continue
            if is_command(line):
                yield line.strip()
                continue
        buf.append(line.rstrip("\n"))
        if line.rstrip().endswith(";"):
            yield "\n".join(buf)
            buf = []
    if buf and "\n".join(buf).strip():
        yield "\n".join(buf)


def script(shell: Shell, source: TextIO) -> None:
    """Statements from a pipe or file, one after the other; an error does not stop the others."""
    for text in statements(source):
        if shell.handle(text) is None:
            return


def history_file() -> Path:
    return state_dir() / "sql_history"


def prompt(shell: Shell) -> None:
    """The interactive prompt: line editing, history, completion of mart and column names."""
    readline = _readline(shell)
    print(shell.banner(), file=shell.out, flush=True)
    buf: list[str] = []
    try:
        while True:
            try:
                line = input(MORE if buf else PROMPT)
            except EOFError:
                print(file=shell.out)
                return
            except KeyboardInterrupt:
                print("\n(cancelled; exit, quit or Ctrl-D to leave)", file=shell.out, flush=True)
                buf = []
                continue
            if not buf:
                if not line.strip():
                    continue
                if is_command(line):
                    if shell.handle(line) is None:
                        return
                    continue
            buf.append(line)
            if line.rstrip().endswith(";"):
                text, buf = "\n".join(buf), []
                if shell.handle(text) is None:
                    return
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                history_file().parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history_file())


def _readline(shell: Shell) -> Any:
    """GNU readline for `input()`: editing, history from the state folder, tab completion of names."""
    try:
        import readline
    except ImportError:  # not on every platform; the prompt works without it
        return None
    readline.set_history_length(2000)
    with contextlib.suppress(OSError):
        readline.read_history_file(history_file())
    words = sorted({*shell.marts(), *shell.columns(), ".tables", ".describe", "help", "exit", "quit"})

    def complete(text: str, state: int) -> str | None:
        hits = [w for w in words if w.startswith(text)]
        return hits[state] if state < len(hits) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t\n(),;=<>'\"")
    readline.parse_and_bind("tab: complete")
    return readline
