"""Segment exports on real marts (group fixture -> dbt build): what is written, every refusal, the audit log, the
campaign report on a planted campaign, and, on the real S3 server, who may read an export.

One module-scoped lake: the group fixture (10,000 members, 120 days) built with dbt. Test segments are written to a
temporary folder; the shipped ones are used where they fit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exports import audit, files, registry
from exports.export import ExportRefused, ExportRequest, export_segment, plan
from exports.report import campaign_report
from lake import analyst, layout, runlog
from lake.build import run_build
from lake.cli import main
from lake.config import LakeConfig
from lake.errors import LakeError
from lake.storage import Lake
from tests.integration.campaign_plant import plant_campaign
from tests.integration.group_fixture import FixtureConfig, write_group_fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURE = FixtureConfig(members=10_000, days=120, seed=11)
SEGMENTS = {
    # the planted campaign's audience: cvs shoppers, many of whom already shop at gms (organic buyers)
    "cvs_shoppers": "description: cvs shoppers\nowner: cvs\npurpose: coupon_campaign\ntarget_company: gms\n"
    "rules:\n  - shopped_at: {company: cvs}\n  - consented: true\n",
    "tiny": "description: too few\nowner: cvs\npurpose: coupon_campaign\n"
    "rules:\n  - attribute: {column: birth_year, min: 1950, max: 1954}\n  - shopped_at: {company: dept}\n"
    "  - consented: true\n",
    "asks_for_more": "description: its own minimum\nowner: cvs\npurpose: coupon_campaign\nminimum_size: 100000\n"
    "rules:\n  - shopped_at: {company: cvs}\n  - consented: true\n",
    "forgot_consent": "description: no consent rule\nowner: cvs\npurpose: coupon_campaign\n"
    "rules:\n  - shopped_at: {company: cvs, within_days: 30}\n",
    "emoney_users": "description: reads e-money data\nowner: cvs\npurpose: coupon_campaign\n"
    "rules:\n  - attribute: {column: is_emoney_user, equals: true}\n  - consented: true\n",
    "with_prefecture": "description: asks for a column\nowner: cvs\npurpose: coupon_campaign\n"
    "columns: [gid, campaign_id, assigned_group, registered_prefecture]\n"
    "rules:\n  - shopped_at: {company: cvs}\n  - consented: true\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, dict, Path]:
    root = tmp_path_factory.mktemp("exports")
    lake = Lake(LakeConfig.resolve(str(root / "lake")))
    truth = write_group_fixture(lake, FIXTURE)
    result = run_build(lake)
    assert result.success, result.failures
    segments = root / "segments"
    segments.mkdir()
    for name, body in SEGMENTS.items():
        (segments / f"{name}.yml").write_text(body, encoding="utf-8")
    return lake, truth, segments


def _export_files(lake: Lake) -> list[str]:
    return lake.list_files(layout.EXPORTS)


def _last_audit(lake: Lake) -> dict:
    return audit.records(lake)[-1]


def test_an_allowed_export_writes_its_file_campaign_and_audit_record(built) -> None:
    lake, _, segments = built
    before = len(audit.records(lake))
    req = ExportRequest("cvs_shoppers", company="cvs", purpose="coupon_campaign", campaign_id="CVS-ALL-1",
                        holdout=0.2, requested_by="test-owner")
    result = export_segment(lake, req, segments)
    assert result.status == "exported" and result.members > 1000
    assert {c.rule: c.ok for c in result.checks}["quality_gate"]  # the Great Expectations export suite passed
    parquet = pq.read_table(lake.path(layout.EXPORTS, layout.export_file("cvs", "CVS-ALL-1", "parquet")))
    assert parquet.column_names == ["gid", "campaign_id", "assigned_group"]
    # the file lists exactly the consented cvs shoppers of the marts, sorted, with their arm
    con = duckdb.connect()
    want = con.execute(
        f"select m.gid from read_parquet('{lake.uri('marts', 'dim_members.parquet')}') m "
        f"where m.has_marketing_consent and m.gid in (select gid from read_parquet("
        f"'{lake.uri('marts', 'fct_member_brands.parquet')}') where company = 'cvs') order by m.gid"
    ).fetchall()
    assert parquet["gid"].to_pylist() == [g for (g,) in want]
    assert set(parquet["campaign_id"].to_pylist()) == {"CVS-ALL-1"}
    held = parquet["assigned_group"].to_pylist().count("control")
    n = parquet.num_rows
    assert abs(held - 0.2 * n) <= 4 * math.sqrt(n * 0.2 * 0.8)
    csv = lake.read_bytes(layout.EXPORTS, layout.export_file("cvs", "CVS-ALL-1", "csv"))
    back = pacsv.read_csv(io.BytesIO(csv), convert_options=pacsv.ConvertOptions(column_types={"gid": pa.string()}))
    assert back.equals(parquet)
    # registered for the marts
    campaign = registry.registered(lake, "CVS-ALL-1")
    assert campaign["segment"] == "cvs_shoppers" and campaign["definition_hash"] == result.version
    assert campaign["target_company"] == "gms" and campaign["holdout_share"] == 0.2 and campaign["members"] == n
    # audited, with the snapshot it names
    recs = audit.records(lake)
    assert len(recs) == before + 1
    rec = recs[-1]
    assert rec["outcome"] == "exported" and rec["requested_by"] == "test-owner"
    assert rec["definition_hash"] == result.version and rec["groups"] == {"treatment": n - held, "control": held}
    assert [f["uri"].rsplit(".", 1)[1] for f in rec["files"]] == ["parquet", "csv"]
    snap = pq.read_table(lake.open_input(layout.OPS, layout.export_snapshot(rec["snapshot"]["sha256"])))
    assert snap.equals(parquet)  # the snapshot is the export's own Parquet file
    runs = runlog.read_all(lake, "export").to_pylist()
    assert runs[-1]["status"] == "ok" and runs[-1]["rows_out"] == n and runs[-1]["company"] == "cvs"


def test_same_definition_same_data_same_file_and_split(built) -> None:
    lake, _, segments = built
    req = ExportRequest("cvs_shoppers", company="cvs", campaign_id="CVS-ALL-2", holdout=0.2)
    first = export_segment(lake, req, segments)
    again = export_segment(lake, req, segments)
    assert again.status == "unchanged"
    assert [f["sha256"] for f in again.files] == [f["sha256"] for f in first.files]
    # another campaign id: the same members, an independent split
    table = plan(lake, ExportRequest("cvs_shoppers", company="cvs", campaign_id="CVS-ALL-3", holdout=0.2),
                 segments).table
    a = pq.read_table(lake.path(layout.EXPORTS, layout.export_file("cvs", "CVS-ALL-2", "parquet")))
    assert table["gid"].equals(a["gid"]) and not table["assigned_group"].equals(a["assigned_group"])
    # re-using the id for other members is refused
    with pytest.raises(ExportRefused) as e:
        export_segment(lake, ExportRequest("cvs_shoppers", company="cvs", campaign_id="CVS-ALL-2", holdout=0.3),
                       segments)
    assert [c.rule for c in e.value.result.refused] == ["campaign_id"]


# the sharing rules the quality gate's export suite validates too (consent, columns, size, purpose, sources)
GX_COVERS = {"consent", "columns", "minimum_size", "purpose", "purpose_data"}


@pytest.mark.parametrize(
    ("segment", "company", "purpose", "holdout", "rule", "numbers"),
    [
        ("tiny", "cvs", None, 0.0, "minimum_size", {"minimum": 100, "segment_export_min": 100}),
        ("asks_for_more", "cvs", None, 0.1, "minimum_size", {"minimum": 100_000}),
        ("forgot_consent", "cvs", None, 0.1, "consent", {}),
        ("emoney_users", "cvs", None, 0.1, "purpose_data", {"forbidden": ["money"]}),
        ("with_prefecture", "cvs", None, 0.1, "columns", {"not_allowed": ["registered_prefecture"]}),
        ("cvs_shoppers", "nosuch", None, 0.1, "company", {"company": "nosuch"}),
        ("cvs_shoppers", "cvs", "spam", 0.1, "purpose", {"purpose": "spam"}),
    ],
)
def test_refusals_are_named_logged_and_write_nothing(built, segment, company, purpose, holdout, rule,
                                                     numbers) -> None:
    lake, _, segments = built
    before_files, before_audit = _export_files(lake), len(audit.records(lake))
    campaign_id = f"REFUSE-{segment}-{rule}"
    with pytest.raises(ExportRefused) as e:
        export_segment(lake, ExportRequest(segment, company=company, purpose=purpose, campaign_id=campaign_id,
                                           holdout=holdout), segments)
    refused = {c.rule: c for c in e.value.result.refused}
    assert [r for r in refused if r != "quality_gate"] == [rule], [c.line() for c in e.value.result.refused]
    if rule in GX_COVERS:  # the quality gate's export suite (Great Expectations) refuses the same rows
        assert "quality_gate" in refused, [c.line() for c in e.value.result.checks]
    assert rule in e.value.what and e.value.fix
    assert numbers.items() <= refused[rule].numbers.items()
    assert _export_files(lake) == before_files and registry.registered(lake, campaign_id) is None
    recs = audit.records(lake)
    assert len(recs) == before_audit + 1
    assert recs[-1]["outcome"] == "refused" and recs[-1]["segment"] == segment
    assert [r for r in recs[-1]["refused_by"] if r != "quality_gate"] == [rule]
    assert recs[-1]["snapshot"] is not None and recs[-1]["files"] == []
    assert runlog.read_all(lake, "export").to_pylist()[-1]["status"] == "rejected"


def test_consent_refusal_counts_the_members_without_consent(built) -> None:
    lake, _, segments = built
    result = plan(lake, ExportRequest("forgot_consent", company="cvs"), segments).result
    (check,) = [c for c in result.refused if c.rule == "consent"]
    con = duckdb.connect()
    want = con.execute(
        f"select count(*) filter (where not has_marketing_consent), count(*) "
        f"from read_parquet('{lake.uri('marts', 'dim_members.parquet')}') where gid in ("
        f"select gid from read_parquet('{lake.uri('marts', 'fct_member_brands.parquet')}') where company = 'cvs' "
        f"and last_purchase_date > (select max(last_purchase_date) from read_parquet("
        f"'{lake.uri('marts', 'fct_member_brands.parquet')}')) - 30)"
    ).fetchone()
    assert (check.numbers["without_consent"], check.numbers["members"]) == want and want[0] > 0


def test_cli_list_dry_run_and_refusal(built) -> None:
    lake, _, _ = built
    runner = CliRunner()
    listed = runner.invoke(main, ["export", "--list", "--lake", lake.cfg.uri])
    assert listed.exit_code == 0, listed.output
    for name in ("cvs_baby_elsewhere", "churn_risk_multibrand", "movers_near_superstore"):
        assert name in listed.output
    before = (_export_files(lake), len(audit.records(lake)), lake.list_files(layout.OPS))
    dry = runner.invoke(main, ["export", "cvs_baby_elsewhere", "--dry-run", "--lake", lake.cfg.uri])
    assert dry.exit_code == 0, dry.output
    assert "never shopped at baby" in dry.output and "nothing written" in dry.output
    assert (_export_files(lake), len(audit.records(lake)), lake.list_files(layout.OPS)) == before
    refused = runner.invoke(main, ["export", "cvs_baby_elsewhere", "--company", "nosuch", "--lake", lake.cfg.uri])
    assert refused.exit_code == 1
    assert "'nosuch' is not a group company" in refused.output
    assert audit.records(lake)[-1]["refused_by"][0] == "company"  # the first rule applied
    log = runner.invoke(main, ["export", "--audit", "--lake", lake.cfg.uri])
    assert log.exit_code == 0 and "hash chain intact" in log.output


def test_the_audit_log_holds_every_attempt_and_verifies(built) -> None:
    lake, _, segments = built
    before = audit.records(lake)
    for company in ("cvs", "nosuch"):
        with contextlib.suppress(ExportRefused):
            export_segment(lake, ExportRequest("cvs_shoppers", company=company, campaign_id=f"AUD-{company}"),
                           segments)
    with pytest.raises(LakeError, match="no segment named 'nosuch_segment'"):  # a failure is an attempt too
        export_segment(lake, ExportRequest("nosuch_segment", company="cvs"), segments)
    recs = audit.records(lake)
    assert [r["seq"] for r in recs] == list(range(len(recs)))
    assert [(r["company"], r["outcome"]) for r in recs[len(before):]] == [
        ("cvs", "exported"), ("nosuch", "refused"), ("cvs", "failed")]
    assert "no segment named" in recs[-1]["error"]
    assert audit.verify(lake) == []
    # the chain notices a record taken away
    path = Path(lake.path(layout.OPS, f"{layout.EXPORT_AUDIT}/{len(recs) - 2:012d}.json"))
    saved = path.read_bytes()
    path.unlink()
    try:
        assert any("missing" in p for p in audit.verify(lake))
    finally:
        path.write_bytes(saved)
    assert audit.verify(lake) == []


def test_campaign_report_recovers_the_planted_uplift(built) -> None:
    lake, truth, segments = built
    start = dt.date.fromisoformat(truth["window"]["start"])
    starts_on, ends_on = start + dt.timedelta(days=90), start + dt.timedelta(days=110)
    req = ExportRequest("cvs_shoppers", company="cvs", campaign_id="CVS-GMS-1", holdout=0.5,
                        starts_on=starts_on, ends_on=ends_on)
    export_segment(lake, req, segments)
    planted = plant_campaign(lake, lake.path(layout.EXPORTS, layout.export_file("cvs", "CVS-GMS-1", "parquet")),
                             "CVS-GMS-1", "gms", "GMS000", starts_on, ends_on, p_control=0.04, p_treatment=0.14,
                             seed=5)
    assert planted.at_risk["treatment"] < 0.7 * planted.members["treatment"]  # many organic gms buyers
    result = run_build(lake, "+mart_campaign_report")
    assert result.success, result.failures
    rep = campaign_report(lake, "CVS-GMS-1")
    assert rep.campaign["origin"] == "export" and rep.campaign["segment"] == "cvs_shoppers"

    referral = rep.row("referral_rate")
    assert (referral["treatment_members"], referral["control_members"]) == (planted.at_risk["treatment"],
                                                                            planted.at_risk["control"])
    se = (referral["ci_high"] - referral["ci_low"]) / (2 * 1.96)
    assert referral["ci_low"] <= planted.uplift <= referral["ci_high"], referral
    assert se < 0.015  # an interval narrow enough to tell the naive answer apart

    redemption = rep.row("redemption_rate")
    assert redemption["treatment_mean"] == pytest.approx(planted.converted["treatment"] / planted.members["treatment"])
    assert redemption["control_mean"] == 0

    visits = rep.row("target_visits")
    planted_visits = planted.visits_per_member["treatment"] - planted.visits_per_member["control"]
    assert visits["ci_low"] <= planted_visits <= visits["ci_high"], (visits, planted_visits)

    # the naive report: every target-brand purchase in the window is a conversion, organic buyers included
    con = duckdb.connect()
    naive = dict(con.execute(
        f"""
        select e.assigned_group, avg((b.gid is not null)::int)
        from read_parquet('{lake.path(layout.EXPORTS, layout.export_file("cvs", "CVS-GMS-1", "parquet"))}') e
        left join (select distinct gid from read_parquet('{lake.uri('group')}/member_day/**/*.parquet',
                   hive_partitioning = true) where company = 'gms' and purchase_date between ? and ?) b
            on e.gid = b.gid
        group by all
        """, [starts_on, ends_on]).fetchall())
    naive_uplift = naive["treatment"] - naive["control"]
    assert abs(naive_uplift - planted.uplift) > 3 * se, (naive_uplift, planted.uplift, se)
    assert abs(referral["difference"] - planted.uplift) <= 3 * se


def test_campaign_report_of_hq_campaigns_and_the_cli(built) -> None:
    lake, truth, _ = built
    for c in truth["campaigns"]:
        rep = campaign_report(lake, c["campaign_id"])
        assert rep.campaign["origin"] == "hq"
        # hq's campaigns target members who never bought at the target: the measured uplift is the realised one
        assert rep.row("referral_rate")["difference"] == pytest.approx(c["realised_uplift"], abs=1e-5)
    runner = CliRunner()
    res = runner.invoke(main, ["campaign", "report", truth["campaigns"][0]["campaign_id"], "--lake", lake.cfg.uri])
    assert res.exit_code == 0, res.output
    assert "referral" in res.output and "95% interval" in res.output
    missing = runner.invoke(main, ["campaign", "report", "NOPE", "--lake", lake.cfg.uri])
    assert missing.exit_code == 1 and "no campaign 'NOPE'" in missing.output


def test_lambda_handler_exports_refuses_and_explains(built, monkeypatch) -> None:
    import json

    from exports.lambda_handler import handler

    lake, _, segments = built
    monkeypatch.setenv("LAKE_SEGMENTS", str(segments))
    ok = handler({"segment": "cvs_shoppers", "company": "cvs", "campaign_id": "LAMBDA-1", "holdout": 0.1,
                  "lake": lake.cfg.uri}, None)
    json.dumps(ok)
    assert ok["status"] == "exported" and ok["groups"]["treatment"] > 0 and len(ok["files"]) == 2
    assert registry.registered(lake, "LAMBDA-1")["exported_by"] == "lambda:export"
    dry = handler({"segment": "cvs_shoppers", "company": "cvs", "campaign_id": "LAMBDA-2", "dry_run": True,
                   "lake": lake.cfg.uri}, None)
    assert dry["status"] == "dry_run" and registry.registered(lake, "LAMBDA-2") is None
    refused = handler({"segment": "emoney_users", "company": "cvs", "lake": lake.cfg.uri}, None)
    assert refused["status"] == "refused" and refused["fix"]
    assert refused["refused_by"] == ["purpose_data", "quality_gate"]  # the export rule and the export gate
    assert audit.records(lake)[-1]["outcome"] == "refused"
    bad = handler({"segment": "cvs_shoppers", "company": "cvs", "holdout": "lots", "lake": lake.cfg.uri}, None)
    assert bad["status"] == "error" and "holdout" in bad["error"]
    assert handler({"segment": "x", "compnay": "cvs"}, None)["status"] == "error"


def test_on_s3_each_company_reads_only_its_own_exports(built, seaweed) -> None:
    """The export job on the real S3 server with its own credentials; then every company's credentials try the file."""
    from botocore.exceptions import ClientError

    from infra import access

    local, _, segments = built
    admin = seaweed.client()
    for name in ("dim_members", "fct_member_brands"):  # the marts the segment reads, published as dbt would
        admin.put_object(Bucket=layout.MARTS, Key=f"{name}.parquet",
                         Body=Path(local.path(layout.MARTS, f"{name}.parquet")).read_bytes())
    analyst.publish(Lake(seaweed.lake_config()))  # the analyst database a build publishes (what exports read)
    job = Lake(seaweed.lake_config(access.EXPORTS))
    result = export_segment(job, ExportRequest("cvs_shoppers", company="cvs", campaign_id="S3-CVS-1"), segments)
    assert result.status == "exported"
    key = layout.export_file("cvs", "S3-CVS-1", "csv")
    assert result.files[1]["uri"] == f"s3://{layout.EXPORTS}/{key}"
    with pytest.raises(ExportRefused):  # refusals are audited on S3 too
        export_segment(job, ExportRequest("tiny", company="gms", campaign_id="S3-GMS-1"), segments)
    records = audit.records(job)
    assert [r["outcome"] for r in records[-2:]] == ["exported", "refused"] and audit.verify(job) == []

    def code(call) -> str | None:
        try:
            call()
        except ClientError as e:
            return e.response["Error"]["Code"]
        return None

    cvs, gms = seaweed.client("cvs", retries=1), seaweed.client("gms", retries=1)
    body = cvs.get_object(Bucket=layout.EXPORTS, Key=key)["Body"].read()
    assert files.sha256(body) == result.files[1]["sha256"]
    # the same definition on the same data, on the local folder, gives the same bytes
    assert body == files.csv_bytes(plan(local, ExportRequest("cvs_shoppers", company="cvs", campaign_id="S3-CVS-1"),
                                        segments).table)
    listed = cvs.list_objects_v2(Bucket=layout.EXPORTS, Prefix="cvs/")
    assert {o["Key"] for o in listed["Contents"]} >= {key}
    assert code(lambda: gms.get_object(Bucket=layout.EXPORTS, Key=key)) == "AccessDenied"
    assert code(lambda: gms.list_objects_v2(Bucket=layout.EXPORTS, Prefix="cvs/")) == "AccessDenied"
    assert code(lambda: gms.list_objects_v2(Bucket=layout.EXPORTS)) == "AccessDenied"
    assert code(lambda: cvs.put_object(Bucket=layout.EXPORTS, Key="cvs/forged.csv", Body=b"x")) == "AccessDenied"
    for company in ("dept", "money", "hq"):
        other = seaweed.client(company, retries=1)
        assert code(lambda c=other: c.get_object(Bucket=layout.EXPORTS, Key=key)) == "AccessDenied", company


def test_on_s3_the_export_job_cannot_delete_audit_records(seaweed) -> None:
    from botocore.exceptions import ClientError

    from infra import access

    job = Lake(seaweed.lake_config(access.EXPORTS))
    rec = audit.append(job, {"event": "probe", "note": "the export job appends"})
    key = f"{layout.EXPORT_AUDIT}/{rec['seq']:012d}.json"
    with pytest.raises(ClientError) as e:
        seaweed.client(access.EXPORTS, retries=1).delete_object(Bucket=layout.OPS, Key=key)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
