"""`lake sql` as an analyst uses it: every statement gives a result or one line of error, piped output is whole,
results can be written for a spreadsheet (outside the lake, formulas escaped), and nothing is ever changed."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lake.cli import main
from lake.config import REPO_ROOT
from lake.storage import Lake
from tests.analyst_lake import MEMBERS, NOTES, WIDE_COLUMNS, make_lake, snapshot


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return make_lake(tmp_path_factory.mktemp("sql") / "lake")


def sql(lake: Lake, *args: str, input: str | None = None):
    result = CliRunner().invoke(main, ["sql", "--lake", lake.cfg.uri, *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_a_query_prints_its_result(lake: Lake) -> None:
    r = sql(lake, "select count(*) as n, max(spend_365d_yen) as top from dim_members")
    assert r.exit_code == 0
    assert "300" in r.stdout and str(100 * (MEMBERS - 1)) in r.stdout


@pytest.mark.parametrize(("statement", "says"), [
    ("selct 1", "Parser Error: syntax error"),
    ("select nope from dim_members", "Binder Error"),
    ("select * from members", "Catalog Error"),
    ("copy (select 42 as x) to '{lake}/marts/dim_members.parquet' (use_tmp_file false)", "COPY refused"),
    ("drop view dim_members", "DROP refused: the marts are read-only"),
    ("create or replace view dim_members as select 42 as x", "CREATE refused"),
    ("create temp view dim_members as select 42 as x", "CREATE refused"),
    ("create table t as select * from dim_members", "CREATE refused"),
    ("insert into dim_members select * from dim_members", "INSERT refused"),
    ("set enable_external_access = true", "SET refused"),
    ("reset lock_configuration", "SET refused"),
    ("set variable x = 1", "SET refused"),
    ("use memory", "SET refused"),
    ("attach '{lake}/marts/marts.duckdb' as m", "ATTACH refused"),
    ("detach marts", "DETACH refused"),
    ("load httpfs", "INSTALL and LOAD refused"),
    ("install httpfs", "INSTALL and LOAD refused"),
    ("export database '/tmp/x'", "EXPORT refused"),
    ("call enable_logging(storage='file', storage_path='{lake}/marts/logs')", "CALL refused"),
    ("checkpoint", "CALL refused"),
    ("select 1; drop table dim_members", "DROP refused"),  # nothing of the text runs
    (".schema", "unknown command .schema"),
    (".describe nope", "no mart named nope"),
    ("select * from read_parquet('{lake}/raw-cvs/pos/*/*.parquet')", "disabled by configuration"),
])
def test_every_statement_gives_a_result_or_one_line_of_error(lake: Lake, statement: str, says: str) -> None:
    before = snapshot(Path(lake.cfg.uri))
    r = sql(lake, statement.format(lake=lake.cfg.uri))
    assert r.exit_code == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.stderr
    assert snapshot(Path(lake.cfg.uri)) == before
    assert sql(lake, "select count(*) from dim_members", "-f", "csv").stdout.split() == ["count_star()", "300"]


def test_the_installed_command_prints_no_traceback(lake: Lake) -> None:
    done = subprocess.run([sys.executable, "-m", "lake.cli", "sql", "--lake", lake.cfg.uri,
                           f"copy (select 42 as x) to '{lake.cfg.uri}/marts/dim_members.parquet' (use_tmp_file false)"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("error: COPY refused") and len(done.stderr.splitlines()) == 1, done.stderr


def test_piped_output_has_every_row_and_column(lake: Lake) -> None:
    r = sql(lake, "select * from mart_wide order by col_01")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    header = lines[1]
    assert all(f"col_{k:02d}" in header for k in range(WIDE_COLUMNS))
    body = [ln for ln in lines[4:] if ln.startswith("│")]
    assert len(body) == MEMBERS
    assert body[-1].split("│")[WIDE_COLUMNS].strip() == str((MEMBERS - 1) * (WIDE_COLUMNS - 1))
    assert "·" not in r.stdout and "…" not in r.stdout  # nothing elided


def test_csv_json_and_markdown(lake: Lake) -> None:
    q = "select gid, note, spend_365d_yen from dim_members order by gid"
    rows = list(csv.reader(io.StringIO(sql(lake, q, "--format", "csv").stdout)))
    assert rows[0] == ["gid", "note", "spend_365d_yen"] and len(rows) == MEMBERS + 1
    assert rows[1][0] == "000000000000"  # text stays text
    notes = {r[1] for r in rows[1:]}
    assert notes == {("'" + n if n[0] in "=+-@\t" else n) for n in NOTES}

    data = json.loads(sql(lake, q, "--format", "json").stdout)
    assert len(data) == MEMBERS and data[3] == {"gid": "000000000003", "note": NOTES[3], "spend_365d_yen": 300}

    md = sql(lake, "select note, spend_365d_yen from dim_members order by gid limit 7", "-f", "markdown").stdout
    lines = md.splitlines()
    assert lines[0] == "| note | spend_365d_yen |" and lines[1] == "|---|---:|"
    assert lines[2 + NOTES.index("a|b")] == r"| a\|b | 600 |" and len(lines) == 9


def test_output_writes_a_file_for_a_spreadsheet(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "members.csv"
    r = sql(lake, "select gid, note from dim_members", "--output", str(out))
    assert r.exit_code == 0 and f"wrote {MEMBERS:,} rows to {out}" in r.stderr
    back = list(csv.reader(out.open(newline="")))
    assert len(back) == MEMBERS + 1
    assert not any(c.startswith(("=", "+", "-", "@", "\t")) for row in back for c in row)
    js = tmp_path / "members.json"
    assert sql(lake, "select gid from dim_members", "-o", str(js)).exit_code == 0
    assert len(json.loads(js.read_text())) == MEMBERS  # the format follows the suffix

    failed = tmp_path / "failed.csv"
    assert sql(lake, "select nope from dim_members", "-o", str(failed)).exit_code == 1
    assert not failed.exists() and not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("where", ["{lake}/marts/x.csv", "{lake}/../lake/raw-cvs/x.csv", "{lake}", "s3://marts/x.csv"])
def test_output_never_goes_into_the_lake(lake: Lake, where: str) -> None:
    before = snapshot(Path(lake.cfg.uri))
    r = sql(lake, "select 1", "--output", where.format(lake=lake.cfg.uri))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "inside the lake" in r.stderr or "not a local file" in r.stderr or "is a folder" in r.stderr
    assert snapshot(Path(lake.cfg.uri)) == before


def test_commands_tables_and_describe(lake: Lake) -> None:
    tables = list(csv.reader(io.StringIO(sql(lake, ".tables", "-f", "csv").stdout)))
    assert tables == [["mart", "rows", "columns", "description"],
                      ["dim_members", "300", "4", "One row per group member."],
                      ["mart_wide", "300", str(WIDE_COLUMNS), "A mart wider than a terminal."]]
    for command in ("describe dim_members", ".describe dim_members", "DESCRIBE marts.dim_members;"):
        cols = list(csv.reader(io.StringIO(sql(lake, command, "-f", "csv").stdout)))
        assert cols[:2] == [["column", "type", "description"], ["gid", "VARCHAR", "The group member ID."]], command
    assert "exit" in sql(lake, "help").stdout


def test_queries_of_every_reading_kind_run(lake: Lake) -> None:
    for q in ("from dim_members limit 1", "with a as (select 1 as x) select * from a", "values (1)",
              "summarize mart_wide", "show tables", "describe select 1 as x", "explain select 1",
              "pivot dim_members on prefecture using count(*)", "pragma show_tables", "table mart_wide"):
        assert sql(lake, q).exit_code == 0, q


def test_a_script_on_stdin_runs_every_statement(lake: Lake) -> None:
    script = ("select 1 as first;\n.tables\nselct 2;\nselect *\n  from dim_members\n  limit 2;\n"
              "exit\nselect 3 as never;\n")
    r = sql(lake, "-f", "csv", input=script)
    assert r.exit_code == 1  # one statement failed
    assert r.stdout.splitlines()[:2] == ["first", "1"] and "mart_wide" in r.stdout
    assert r.stdout.count("000000000001") == 1 and "never" not in r.stdout
    assert r.stderr.count("error: ") == 1


def test_output_needs_a_query_and_a_known_format(lake: Lake, tmp_path: Path) -> None:
    r = sql(lake, "--output", str(tmp_path / "x.csv"))
    assert r.exit_code == 1 and "--output needs a QUERY" in r.stderr
