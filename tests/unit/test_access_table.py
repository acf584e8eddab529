"""The README's principal x zone table is the access policy's own (`lake s3 policy`), and says what it grants."""

from __future__ import annotations

import re

from click.testing import CliRunner

from infra import access
from lake.config import REPO_ROOT
from lake.s3cli import s3

TABLE = re.compile(r"<!-- access-table:[^>]*-->\n(.*?)<!-- /access-table -->", re.S)


def _cells(markdown: str) -> dict[tuple[str, str], str]:
    lines = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")] for line in markdown.splitlines()]
    header, body = lines[0], lines[2:]
    return {(row[0], col): cell for row in body for col, cell in zip(header[1:], row[1:], strict=True)}


def test_readme_table_is_the_generated_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    found = TABLE.search(readme)
    assert found, "README.md lost its access table markers"
    assert found.group(1) == access.markdown_table(), "README access table is stale: paste `lake s3 policy`"


def test_lake_s3_policy_prints_the_table_and_the_iam_documents() -> None:
    runner = CliRunner()
    printed = runner.invoke(s3, ["policy"])
    assert printed.exit_code == 0 and printed.output == access.markdown_table()
    docs = runner.invoke(s3, ["policy", "--json"])
    assert docs.exit_code == 0 and '"lake-analyst"' in docs.output and "s3:GetObject" in docs.output


def test_table_cells_say_what_the_policy_grants() -> None:
    cells = _cells(access.markdown_table())
    # Hand-checked against DESIGN §2 and §9, not recomputed the way the table is.
    assert cells[("<company>", "landing-<company>")] == "drop box (own)"
    assert cells[("<company>", "raw-<company>")] == "read (own)"
    assert cells[("<company>", "exports")] == "-"  # not even the listing of the zone...
    assert cells[("<company>", "exports/<company>/")] == "read (own)"  # ...only its own folder
    assert cells[("analyst", "raw-<company>")] == "-" and cells[("analyst", "quarantine")] == "-"
    assert cells[("analyst", "marts")] == "read" and cells[("analyst", "ops")] == "read"
    assert cells[("ingestion", "ops")] == "read, write, delete"
    assert cells[("ingestion", "ops/manifests/ingest/")] == "append only"
    assert cells[("exports", "ops/manifests/ingest/")] == "read"  # another job's records
    assert cells[("exports", "ops/audit/exports/")] == "append only"
    assert cells[("transforms", "group")] == "read, write, delete" and cells[("transforms", "marts")] == "-"
    assert cells[("dbt", "group")] == "read"
    assert set(cells[("admin", c)] for c in ("group", "raw-<company>", "ops/audit/exports/")) == {"everything"}
    assert {p for p, _ in cells} == {"admin", "<company>", *access.JOBS}


def test_table_shows_a_grant_that_differs_between_companies(monkeypatch) -> None:
    """A company granted another's raw zone is no longer "own": the table must not hide it."""
    grants = access.policy(["aa", "bb"])
    grants["aa"]["raw-bb"] = access.READ_ONLY
    monkeypatch.setattr(access, "policy", lambda companies=None: grants)
    cells = _cells(access.markdown_table(["aa", "bb"]))
    assert cells[("<company>", "raw-<company>")] == "varies"
    assert cells[("<company>", "landing-<company>")] == "drop box (own)"
