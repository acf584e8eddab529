"""The dbt project on a generated group zone (tests/integration/group_fixture.py, which computes member_day as
Spark does): builds with every data and unit test passing, keeps analysts away from anything but the marts, runs
every notebook on a fair-sized lake and on a small one (where they must say what is missing, not crash), and a
backtest at an earlier as-of date gives the same marts as a lake that stops at that date (no look-ahead)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from lake.analyst import connect, headline, mart_names
from lake.build import run_build, run_docs
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARTS = {
    "dim_members",
    "fct_member_brands",
    "mart_rfm",
    "mart_cross_brand_matrix",
    "mart_clv",
    "mart_clv_parameters",
    "mart_clv_holdout",
    "fct_member_moves",
    "mart_move_nearby_stores",
    "mart_campaign_referral",
    "mart_referral_matrix",
    "mart_programme_effect",
    "mart_programme_did",
    "mart_programme_monthly",
    "mart_programme_before_after",
    "mart_kpi_monthly",
    "mart_kpi_companies",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("marts") / "lake")))
    write_group_fixture(lake, FixtureConfig(members=12000, days=120, seed=11))
    result = run_build(lake)
    assert result.success, result.failures
    return lake


def test_build_passes_every_test_and_exports_every_mart(built: Lake) -> None:
    assert set(mart_names(built)) >= MARTS


def test_k_suppression_uses_the_sharing_rules(built: Lake) -> None:
    from expectations.rules import load_rules

    k = load_rules().aggregate_cell_k
    con = connect(built)
    small = con.execute(
        "select count(*) from mart_cross_brand_matrix where not is_suppressed and members_both < ?", [k]
    ).fetchone()
    suppressed = con.execute(
        "select count(*) from mart_cross_brand_matrix where is_suppressed and lift is not null"
    ).fetchone()
    assert small == (0,) and suppressed == (0,)


def test_analyst_connection_reaches_only_the_marts(built: Lake, tmp_path: Path) -> None:
    con = connect(built)
    assert con.execute("select count(*) from dim_members").fetchone()[0] > 0
    blocked = [
        f"select * from read_parquet('{built.uri('group', 'members')}/*.parquet')",
        f"select * from read_csv('{built.uri('raw-cvs')}/x.csv')",
        f"attach '{built.path('marts', 'marts.duckdb')}' as m",
        f"copy (select 1) to '{built.uri('marts', 'x.parquet')}'",
        "set enable_external_access = true",
    ]
    for sql in blocked:
        with pytest.raises(duckdb.Error):
            con.execute(sql)
    text = headline(built)
    assert "Programme effect" in text and "Moves detected" in text


def test_published_marts_carry_the_dbt_descriptions(built: Lake) -> None:
    """Every column description written in the marts' YAML is the column's comment in the analyst database."""
    import yaml

    written = {}
    for yml in (REPO_ROOT / "models" / "models" / "marts").rglob("*.yml"):
        for model in yaml.safe_load(yml.read_text()).get("models", []):
            for col in model.get("columns", []):
                if col.get("description") and "{{" not in col["description"]:
                    written[(model["name"], col["name"])] = col["description"].strip()
    con = connect(built)
    comments = {(t, c): (d or "").strip() for t, c, d in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where database_name = 'marts'").fetchall()}
    assert {k: comments.get(k) for k in written} == written
    tables = dict(con.execute("select table_name, comment from duckdb_tables()").fetchall())
    assert set(tables) == set(mart_names(built)) and all(tables.values())  # each mart described
    # every column of every published mart, as built: a column added to a model without a description fails
    undescribed = sorted(f"{t}.{c}" for (t, c), d in comments.items() if not d)
    assert not undescribed, f"{len(undescribed)} mart columns have no description in the dbt YAML: {undescribed}"
    assert {t for t, _ in comments} == set(mart_names(built))


def test_docs_generate(built: Lake) -> None:
    """`lake docs`: the site's catalog (columns as built) and manifest (the YAML) describe every mart column."""
    import json

    target = run_docs(built)
    assert (target / "index.html").exists() and (target / "catalog.json").exists()
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    marts = {k: n for k, n in manifest.items() if n.get("resource_type") == "model" and "mart" in n.get("tags", [])}
    assert {n.get("alias") or n["name"] for n in marts.values()} == set(mart_names(built))
    missing = [f"{n['name']}.{col}" for k, n in marts.items() for col in catalog.get(k, {}).get("columns", {})
               if not (n["columns"].get(col.lower()) or n["columns"].get(col) or {}).get("description", "").strip()]
    assert all(k in catalog for k in marts), sorted(set(marts) - set(catalog))
    assert not missing, f"undescribed in the docs site: {missing}"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A 2,000-member lake over 30 days: few moves, few enrolments with a week of data before them."""
    lake = Lake(LakeConfig.resolve(str(tmp_path_factory.mktemp("small") / "lake")))
    write_group_fixture(lake, FixtureConfig(members=2000, days=30, seed=3))
    result = run_build(lake)
    assert result.success, result.failures
    return lake


def _execute(lake: Lake, name: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[dict]]]:
    """Run a notebook as Jupyter would (inline figures) and return each code cell's source and outputs."""
    monkeypatch.setenv("LAKE_URI", lake.cfg.uri)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend: figures become image outputs
    nb = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    return [(c.source, c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]


def _text(outputs: list[dict]) -> str:
    """What a reader sees as text: printed lines and the plain-text form of shown tables."""
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def _run_notebook(lake: Lake, name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    return "\n".join(_text(outputs) for _, outputs in _execute(lake, name, monkeypatch))


NOTEBOOKS = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(built: Lake, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _run_notebook(built, name, monkeypatch)
    if name.startswith(("01", "02")):  # both programme estimates, each with the question it answers
        assert "descriptive" in text and "causal" in text and "because they enrolled" in text, text[:2000]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_says_what_is_missing_on_a_small_lake(small: Lake, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a small lake (raises on any cell error) a cell that shows a result either shows something or says
    what is missing: no empty table, and no drawing cell that draws nothing and says nothing."""
    cells = _execute(small, name, monkeypatch)
    for source, outputs in cells:
        text = _text(outputs)
        assert "Empty DataFrame" not in text, f"an empty table is shown instead of saying what is missing:\n{source}"
        if "say(" in source and "def say(" not in source:
            drew = any("image/png" in o.get("data", {}) for o in outputs)
            assert drew or text.strip(), f"this cell neither showed its result nor said what is missing:\n{source}"


def test_a_small_lake_is_missing_what_the_notebooks_say(small: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook reports what the marts hold: the move count it prints is the mart's, empty parts say so."""
    con = connect(small)
    moves = con.execute("select count(*) from fct_member_moves").fetchone()[0]
    stores = con.execute("select count(*) from mart_move_nearby_stores").fetchone()[0]
    text = _run_notebook(small, "03_relocation_and_churn.ipynb", monkeypatch)
    assert f"{moves} moves," in text, text[:2000]
    assert ("nothing to show for moves" in text) == (moves == 0), text[:2000]
    assert ("nothing to show for stores near new homes" in text) == (stores == 0), text[:2000]


# --- no look-ahead -------------------------------------------------------------------------------------------

AS_OF = dt.date(2026, 5, 31)  # a month end: e-money shares monthly totals, complete months only


def _truncate(src: Lake, dst: Lake, as_of: dt.date) -> None:
    """A lake that stops at `as_of`: the group zone as the transforms would have written it then."""
    shutil.copytree(src.uri("group"), dst.uri("group"))
    root = Path(dst.uri("group"))
    for part in root.rglob("*=*"):
        key, _, value = part.name.partition("=")
        if key in ("purchase_date", "event_date", "month") and part.is_dir() and dt.date.fromisoformat(value) > as_of:
            shutil.rmtree(part)
    con = duckdb.connect()
    for table, sql in (
        ("members", "select * replace (case when programme_joined_on <= DATE then programme_joined_on end "
                    "as programme_joined_on) from t where joined_on <= DATE"),
        ("campaigns", "select * from t where starts_on <= DATE"),
    ):
        files = sorted((root / table).glob("*.parquet"))
        con.execute(f"create or replace table t as select * from read_parquet({[str(f) for f in files]})")
        for f in files:
            f.unlink()
        con.execute(f"copy ({sql.replace('DATE', repr(str(as_of)) + '::date')}) to '{root / table / 'part-0.parquet'}'")
    kept = {r[0] for r in con.execute(f"select campaign_id from '{root / 'campaigns'}/*.parquet'").fetchall()}
    files = sorted((root / "campaign_assignments").glob("*.parquet"))
    con.execute(f"create or replace table t as select * from read_parquet({[str(f) for f in files]})")
    for f in files:
        f.unlink()
    con.execute(f"copy (select * from t where campaign_id in {tuple(kept) or ('',)}) "
                f"to '{root / 'campaign_assignments' / 'part-0.parquet'}'")


def _rows(lake: Lake, mart: str) -> list[tuple]:
    df = duckdb.connect().execute(f"select * from '{lake.uri('marts', mart + '.parquet')}'").df()
    def cell(v: object) -> object:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            return None  # NaN is not equal to itself: compare missing values as missing
        return round(v, 6) if isinstance(v, float) else str(v)

    return sorted((tuple(cell(v) for v in row) for row in df.itertuples(index=False)), key=repr)


def test_backtest_at_an_earlier_as_of_date_equals_a_lake_that_stops_then(tmp_path: Path) -> None:
    full = Lake(LakeConfig.resolve(str(tmp_path / "full")))
    write_group_fixture(full, FixtureConfig(members=3000, days=120, seed=5))
    stopped = Lake(LakeConfig.resolve(str(tmp_path / "stopped")))
    stopped.ensure_zones(["marts"])
    _truncate(full, stopped, AS_OF)
    result = run_build(full, extra_vars={"as_of_date": AS_OF.isoformat()})
    assert result.success, result.failures
    result = run_build(stopped)
    assert result.success, result.failures
    marts = set(mart_names(full))
    assert marts == set(mart_names(stopped)) and marts >= MARTS
    differ = [m for m in sorted(marts) if _rows(full, m) != _rows(stopped, m)]
    assert not differ, differ
    # and the backtest really is earlier: nothing after the as-of date in the member view
    last = connect(full).execute("select max(last_purchase_date) from dim_members").fetchone()[0]
    assert last == AS_OF, last


def test_marts_the_gate_refuses_stay_unpublished(built: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt suppressing at k=10 while the rules file says k=500: the group -> marts gate refuses the new marts."""
    from expectations.gates import GateFailed
    from tests.unit.gates_fixture import rules_copy

    monkeypatch.setenv("LAKE_SHARING_RULES", str(rules_copy(tmp_path, ("aggregate_cell_k: 10",
                                                                       "aggregate_cell_k: 500")).path))
    mart = Path(built.path("marts", "mart_cross_brand_matrix.parquet"))
    before = mart.read_bytes()
    with pytest.raises(GateFailed, match=r"rule minimum_cohort\.aggregate_cell_k.*marts/mart_cross_brand_matrix"):
        run_build(built, select="mart_cross_brand_matrix", extra_vars={"min_cell_k": 10})
    assert mart.read_bytes() == before  # the last published mart stands
    assert not [f for f in built.list_files("marts") if "_staging" in f]
