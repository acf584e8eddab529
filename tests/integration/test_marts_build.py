"""The dbt project on a generated group zone: builds with every data and unit test passing, recovers the planted
truth within stated tolerances, keeps analysts away from anything but the marts, and runs every notebook."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from lake.analyst import connect, headline, mart_names
from lake.build import run_build, run_docs
from lake.config import REPO_ROOT, LakeConfig
from lake.storage import Lake
from tests.integration.group_fixture import FixtureConfig, write_group_fixture
from tests.integration.truth_checks import recover

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


def test_marts_recover_the_planted_truth(built: Lake) -> None:
    r = recover(built)
    # programme effect: churn in the window dilutes both cohorts (members counted to the end of the window), so
    # the estimate sits a little below the effect on living members; allow 30% for visits, and for spend (noisy:
    # spend varies a lot between members) require the interval to lie within 60% of the truth
    d, lo, hi = r.programme_visits
    assert abs(d - r.truth_visits) <= 0.30 * r.truth_visits, r
    d, lo, hi = r.programme_spend
    assert lo <= r.truth_spend * 1.6 and hi >= r.truth_spend * 0.4 and d > 0, r
    # movers: every detected move is right (precision), most planted moves are found (recall)
    assert r.move_precision >= 0.9, r
    assert r.move_recall >= 0.6, r
    # churn: P(alive) ranks members who churned 30+ days before the end well above chance
    assert r.churn_auc >= 0.75, r
    # campaign uplift: the measured uplift is the realised one (same outcome definition)
    assert r.uplift and all(abs(m - t) <= 0.02 for m, t in r.uplift.values()), r


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


def test_docs_generate(built: Lake) -> None:
    target = run_docs(built)
    assert (target / "index.html").exists() and (target / "catalog.json").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb")))
def test_notebook_runs(built: Lake, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_URI", built.cfg.uri)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    assert os.environ.get("LAKE_URI") == built.cfg.uri
