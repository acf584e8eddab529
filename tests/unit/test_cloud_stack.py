"""The cloud deployment (infra/cloud), synthesised offline once per module and checked with aws_cdk.assertions.

The IAM check evaluates the synthesised policy documents (roles' policies and bucket policies) with an
IAM evaluator written from IAM's rules (`iam_eval`) into a principal x zone x prefix x operation matrix,
and compares it with the matrix of the access policy (`infra.access`) that the local server enforces.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

import infra.cloud  # noqa: F401  (before aws_cdk starts Node.js: it quiets jsii's Node version banner)
from infra import access
from lake import layout
from lake.config import REPO_ROOT, SHARING_RULES
from tests.unit import iam_eval

pytestmark = pytest.mark.slow  # one synthesis: about 10 to 40 s with Node.js

PREFIX = "test-lake-"
RULES = yaml.safe_load(SHARING_RULES.read_text())
COMPANIES = list(RULES["companies"])
ZONES = layout.all_zones(COMPANIES)


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory: pytest.TempPathFactory):
    """(stack, template JSON): the app built from the repository's policy, rules and schedules."""
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.cloud.app import build
    from infra.cloud.config import CloudConfig

    build_dir = tmp_path_factory.mktemp("build")  # synthesis builds the job artifacts here
    config = CloudConfig(account=iam_eval.ACCOUNT, region=iam_eval.REGION, prefix=PREFIX, build_dir=build_dir)
    app = App()
    stack = build(app, config)
    assembly = app.synth()
    stack.missing = assembly.get_stack_artifact(stack.artifact_id).manifest.metadata or {}
    stack.missing = [m for entries in stack.missing.values() for m in entries if m.type == "aws:cdk:missing"]
    template = Template.from_stack(stack)
    return stack, template, template.to_json()


def _resources(tpl: dict, kind: str) -> dict[str, dict]:
    return {lid: r for lid, r in tpl["Resources"].items() if r["Type"] == kind}


def _bucket_zone(name: str) -> str:
    assert name.startswith(PREFIX), name
    return name[len(PREFIX):]


# --- buckets --------------------------------------------------------------------------------


def test_one_bucket_per_zone_encrypted_and_private(synthesised) -> None:
    _, _, tpl = synthesised
    buckets = _resources(tpl, "AWS::S3::Bucket")
    names = sorted(_bucket_zone(b["Properties"]["BucketName"]) for b in buckets.values())
    assert names == sorted(ZONES)
    for lid, b in buckets.items():
        props = b["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert sse["SSEAlgorithm"] in {"AES256", "aws:kms"}, lid
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert b["DeletionPolicy"] == "Retain"  # deleting the stack never deletes data


def test_every_bucket_refuses_plain_http(synthesised) -> None:
    _, _, tpl = synthesised
    account = iam_eval.account_of(tpl)
    assert set(account.bucket_policies) == {PREFIX + z for z in ZONES}
    key = "runs/x.parquet"
    assert account.decide(PREFIX + "analyst", iam_eval.s3_request("read", PREFIX + layout.OPS, key, tls=True))
    for zone in ZONES:  # whatever a role may do over TLS, over plain HTTP it may not
        for role in account.roles:
            for op in access.OPERATIONS:
                assert not account.decide(role, iam_eval.s3_request(op, PREFIX + zone, key, tls=False)), (role, zone)


def test_versioning_on_ops_and_exports(synthesised) -> None:
    _, _, tpl = synthesised
    versioned = {_bucket_zone(b["Properties"]["BucketName"]) for b in _resources(tpl, "AWS::S3::Bucket").values()
                 if b["Properties"].get("VersioningConfiguration", {}).get("Status") == "Enabled"}
    assert versioned == {"ops", "exports"}


def test_lifecycle_expiration_is_the_rules_retention(synthesised) -> None:
    _, _, tpl = synthesised
    retention = RULES["retention_days"]
    for b in _resources(tpl, "AWS::S3::Bucket").values():
        zone = _bucket_zone(b["Properties"]["BucketName"])
        kind = "landing" if zone.startswith("landing-") else "raw" if zone.startswith("raw-") else zone
        rules = b["Properties"]["LifecycleConfiguration"]["Rules"]
        expirations = [r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r]
        assert expirations == ([] if retention[kind] is None else [retention[kind]]), zone
        for r in rules:
            if "NoncurrentVersionExpiration" in r:
                assert r["NoncurrentVersionExpiration"]["NoncurrentDays"] == retention[kind]
    assert retention["ops"] is None and retention["raw"] == 730  # the file's facts the checks above rely on


# --- IAM: the same matrix as the local server -------------------------------------------------


def _probe_keys(zone: str) -> list[str]:
    prefixes = {access.split_scope(s)[1] for scopes in access.policy(COMPANIES).values() for s in scopes
                if access.split_scope(s)[0] == zone}
    return [f"{p}probe/x" for p in sorted(prefixes | {""})]


def _matrix(decide) -> dict[tuple, bool]:
    cells = {}
    for principal in access.policy(COMPANIES):
        for zone in ZONES:
            for key in _probe_keys(zone):
                for op in access.OPERATIONS:
                    k = key.rsplit("x", 1)[0] if op == "list" else key
                    cells[(principal, zone, key, op)] = decide(principal, zone, k, op)
    return cells


def _cloud_matrix(tpl: dict) -> dict[tuple, bool]:
    account = iam_eval.account_of(tpl)
    return _matrix(lambda p, z, k, op: account.decide(PREFIX + p, iam_eval.s3_request(op, PREFIX + z, k)))


def _policy_matrix() -> dict[tuple, bool]:
    grants = access.policy(COMPANIES)
    return _matrix(lambda p, z, k, op: access.permits(grants, p, z, op, k))


def _differences(cloud: dict, local: dict) -> list[str]:
    return [f"{p} {op} {z}/{k}: cloud {'allows' if cloud[c] else 'denies'}, policy {'allows' if local[c] else 'denies'}"
            for c in sorted(cloud) if cloud[c] != local[c] for (p, z, k, op) in [c]]


def test_cloud_roles_give_the_access_policy_matrix(synthesised) -> None:
    _, _, tpl = synthesised
    cloud, local = _cloud_matrix(tpl), _policy_matrix()
    assert sum(local.values()) > 250 and sum(not v for v in local.values()) > 2000  # a real matrix, both ways
    assert not _differences(cloud, local)


def test_every_role_is_a_principal_or_reaches_no_zone(synthesised) -> None:
    _, _, tpl = synthesised
    account = iam_eval.account_of(tpl)
    principals = {PREFIX + p for p in access.policy(COMPANIES)}
    assert principals <= set(account.roles)
    assert not account.unknown_policies  # every policy text is in the template, so the matrix saw all of it
    for role in set(account.roles) - principals:
        for zone in ZONES:
            for key in _probe_keys(zone):
                for op in access.OPERATIONS:
                    assert not account.decide(role, iam_eval.s3_request(op, PREFIX + zone, key)), (role, op, zone)


def test_a_grant_beyond_the_policy_is_caught(synthesised) -> None:
    """What the matrix test catches: one extra statement on one role (as `bucket.grant_read(role)` adds)."""
    _, _, tpl = synthesised
    widened = copy.deepcopy(tpl)
    analyst = next(lid for lid, r in _resources(widened, "AWS::IAM::ManagedPolicy").items()
                   if r["Properties"]["ManagedPolicyName"] == f"{PREFIX}analyst-zones")
    widened["Resources"][analyst]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:GetObject*", "Resource": f"arn:aws:s3:::{PREFIX}raw-cvs/*"})
    diff = _differences(_cloud_matrix(widened), _policy_matrix())
    assert diff == ["analyst read raw-cvs/probe/x: cloud allows, policy denies"]


def test_append_only_records_need_a_conditional_put(synthesised) -> None:
    _, _, tpl = synthesised
    account = iam_eval.account_of(tpl)
    manifest = f"{layout.MANIFESTS}/000000000001.json"  # one record of the ingest history
    bucket = PREFIX + layout.OPS
    assert account.decide(PREFIX + "ingestion", iam_eval.s3_request("create", bucket, manifest))
    assert not account.decide(PREFIX + "ingestion", iam_eval.s3_request("overwrite", bucket, manifest))
    assert not account.decide(PREFIX + "ingestion", iam_eval.s3_request("delete", bucket, manifest))
    assert account.decide(PREFIX + "ingestion", iam_eval.s3_request("overwrite", bucket, "runs/x.parquet"))


def test_no_wildcard_s3_on_everything(synthesised) -> None:
    _, _, tpl = synthesised
    account = iam_eval.account_of(tpl)
    docs = [s for statements in account.roles.values() for s in statements]
    docs += [s for statements in account.bucket_policies.values() for s in statements]
    for s in docs:
        if s["Effect"] != "Allow":
            continue
        actions = [a.lower() for a in s["Action"]]
        assert "*" not in actions and "s3:*" not in actions, s
        if any(a.startswith("s3:") for a in actions):
            assert all(r != "*" and not r.startswith("arn:aws:s3:::*") for r in s["Resource"]), s


# --- jobs, schedules, export entry point, catalog --------------------------------------------


def test_schedules_follow_the_schedules_file(synthesised) -> None:
    _, _, tpl = synthesised
    spec = yaml.safe_load((REPO_ROOT / "orchestration" / "schedules.yml").read_text())
    from orchestration.schedules import eventbridge_cron

    got = {r["Properties"]["Name"]: r["Properties"] for r in _resources(tpl, "AWS::Scheduler::Schedule").values()}
    assert set(got) == {PREFIX + s["name"] for s in spec["schedules"]}
    for s in spec["schedules"]:
        props = got[PREFIX + s["name"]]
        assert props["ScheduleExpression"] == eventbridge_cron(s["cron"])
        assert props["ScheduleExpressionTimezone"] == spec["timezone"] == "Asia/Tokyo"
    assert got[PREFIX + "nightly-transforms"]["ScheduleExpression"] == "cron(0 3 * * ? *)"


def test_transforms_run_on_emr_serverless_as_the_transforms_role(synthesised) -> None:
    _, template, tpl = synthesised
    template.has_resource_properties("AWS::EMRServerless::Application", {
        "ReleaseLabel": "emr-spark-8.0.0", "Type": "Spark",
        "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": 15}})
    schedule = next(r["Properties"] for r in _resources(tpl, "AWS::Scheduler::Schedule").values()
                    if r["Properties"]["Name"] == PREFIX + "nightly-transforms")
    target = schedule["Target"]
    assert iam_eval.resolve(target["Arn"], tpl) == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"
    run = json.loads(iam_eval.resolve(target["Input"], tpl))
    assert run["executionRoleArn"] == f"arn:aws:iam::{iam_eval.ACCOUNT}:role/{PREFIX}transforms"
    driver = run["jobDriver"]["sparkSubmit"]
    assert driver["entryPointArguments"] == ["--lake", f"s3://{PREFIX}"]  # the buckets are s3://<prefix><zone>
    assert driver["entryPoint"].endswith(".py") and ".zip#lake_jobs" in driver["sparkSubmitParameters"]
    assert "LAKE_PSEUDONYM_SECRET_ARN=" in driver["sparkSubmitParameters"]
    assert "LAKE_PSEUDONYM_KEY" not in driver["sparkSubmitParameters"]  # the key itself is never in the job
    assert run["clientToken"] == "<aws.scheduler.execution-id>"


def test_export_entry_point_runs_as_the_exports_role(synthesised) -> None:
    stack, _, tpl = synthesised
    fn = next(iter(_resources(tpl, "AWS::Lambda::Function").values()))["Properties"]
    assert fn["PackageType"] == "Image" and fn["ImageConfig"]["Command"] == ["exports.lambda_handler.handler"]
    roles = {lid: r["Properties"]["RoleName"] for lid, r in _resources(tpl, "AWS::IAM::Role").items()}
    assert roles[fn["Role"]["Fn::GetAtt"][0]] == PREFIX + "exports"
    assert fn["Environment"]["Variables"]["LAKE_URI"] == f"s3://{PREFIX}"
    context = stack.config.build_dir / "export"
    assert "duckdb==1.5.5" in (context / "requirements.txt").read_text().split()
    assert (context / "Dockerfile").exists() and (context / "lake" / "storage.py").exists()


def test_catalog_declares_the_group_zone_tables(synthesised) -> None:
    _, _, tpl = synthesised
    spec = yaml.safe_load((REPO_ROOT / "transforms" / "group_schema.yml").read_text())["tables"]
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"]
              for r in _resources(tpl, "AWS::Glue::Table").values()}
    assert set(tables) == set(spec)
    purchases = tables["purchases"]["TableInput"]
    assert [k["Name"] for k in purchases["PartitionKeys"]] == spec["purchases"]["partition_by"]
    assert purchases["StorageDescriptor"]["Location"] == f"s3://{PREFIX}group/purchases/"
    assert "projection.company.values" not in purchases["Parameters"]  # one partition per date holds every company
    assert purchases["Parameters"]["projection.purchase_date.interval.unit"] == "DAYS"
    assert tables["money_monthly"]["TableInput"]["Parameters"]["projection.month.interval.unit"] == "MONTHS"
    cols = {c["Name"]: c["Type"] for c in purchases["StorageDescriptor"]["Columns"]}
    assert cols["amount_yen"] == "bigint" and cols["company"] == "string"
    assert "purchase_date" not in cols  # partition columns live in the path
    crawler = next(iter(_resources(tpl, "AWS::Glue::Crawler").values()))["Properties"]
    roles = {lid: r["Properties"]["RoleName"] for lid, r in _resources(tpl, "AWS::IAM::Role").items()}
    assert roles[crawler["Role"]["Fn::GetAtt"][0]] == PREFIX + "analyst"  # it reads what analysts read
    assert crawler["Targets"]["S3Targets"][0]["Path"] == f"s3://{PREFIX}marts/"


def test_templates_synthesise_without_lookups(synthesised) -> None:
    stack, _, _ = synthesised
    assert not stack.missing  # no context lookup: nothing needed an account to answer
    assert stack.stack_name == PREFIX.rstrip("-")


def test_kms_key_source_encrypts_every_zone_and_lets_the_roles_use_the_key(synthesised) -> None:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from expectations.rules import load_rules
    from infra.cloud.config import CloudConfig
    from infra.cloud.roles import Roles
    from infra.cloud.zones import Zones

    config = CloudConfig(account=iam_eval.ACCOUNT, region=iam_eval.REGION, prefix=PREFIX, key="kms")
    stack = Stack(App(), "kms")
    zones = Zones(stack, "Zones", config, load_rules())
    Roles(stack, "Roles", config, access.policy(COMPANIES), zones.key)
    tpl = Template.from_stack(stack).to_json()
    key_id = next(iter(_resources(tpl, "AWS::KMS::Key")))
    for b in _resources(tpl, "AWS::S3::Bucket").values():
        rule = b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert rule["BucketKeyEnabled"] is True
    kms_actions = {}
    for p in _resources(tpl, "AWS::IAM::ManagedPolicy").values():
        principal = p["Properties"]["ManagedPolicyName"].removeprefix(PREFIX).removesuffix("-zones")
        kms_actions[principal] = {a for s in p["Properties"]["PolicyDocument"]["Statement"]
                                  for a in iam_eval._as_list(s["Action"]) if a.startswith("kms:")
                                  and s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}}
    assert kms_actions["analyst"] == {"kms:Decrypt"}  # reads only
    assert kms_actions["ingestion"] == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert kms_actions["cvs"] == {"kms:Decrypt", "kms:GenerateDataKey"}  # drops files into its landing zone


def test_synth_command_refuses_bad_settings_with_a_fix(synthesised, tmp_path, capsys) -> None:
    from infra.cloud.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["synth", "--out", str(tmp_path), "-c", "key=vault"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "key source 'vault'" in err and "-c key=kms" in err and "Traceback" not in err
