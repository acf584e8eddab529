"""The access policy, enforced by the real S3 server: every principal x zone x prefix x operation (DESIGN §9)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from expectations.rules import load_rules
from infra import access
from infra.seaweed import SeaweedServer
from lake import layout

COMPANIES = list(load_rules().companies)
ZONES = layout.all_zones(COMPANIES)
SEED = "probe/seed.txt"


# --- the policy itself (no server) ----------------------------------------------------------


def test_policy_follows_the_sharing_rules() -> None:
    grants = access.policy()
    assert set(COMPANIES) <= set(grants)
    for c in COMPANIES:  # a company reaches its own landing (drop box), raw (read) and exports folder (read)
        assert grants[c] == {
            layout.landing(c): access.DROP_BOX,
            layout.raw(c): access.READ_ONLY,
            access.scope(layout.EXPORTS, layout.exports_prefix(c)): access.READ_ONLY,
        }
    assert all(z not in grants[access.ANALYST] for z in ZONES if z.startswith(("raw-", "landing-")))
    assert layout.QUARANTINE not in grants[access.ANALYST]
    assert set(grants[access.ANALYST]) == {layout.GROUP, layout.MARTS, layout.OPS}
    assert all(acts <= access.READ_ONLY for acts in grants[access.ANALYST].values())
    for job in (access.INGESTION, access.TRANSFORMS, access.DBT, access.EXPORTS):
        assert access.WRITE in grants[job][layout.OPS]


def test_policy_grows_with_a_new_company() -> None:
    grants = access.policy([*COMPANIES, "newco"])
    assert grants["newco"] == {"landing-newco": access.DROP_BOX, "raw-newco": access.READ_ONLY,
                               "exports/newco/": access.READ_ONLY}
    assert grants[access.INGESTION]["raw-newco"] == access.READ_WRITE
    assert grants[access.TRANSFORMS]["raw-newco"] == access.READ_ONLY


def test_most_specific_scope_decides() -> None:
    grants = access.policy()
    manifest = f"{layout.MANIFESTS}/000000000001.json"  # one record of the ingest history
    audit = f"{layout.EXPORT_AUDIT}/2026-08-01.parquet"
    # ingestion rewrites and deletes in ops, but only appends manifests
    assert access.permits(grants, access.INGESTION, layout.OPS, "delete", "runs/x.parquet")
    assert access.permits(grants, access.INGESTION, layout.OPS, "create", manifest)
    assert not access.permits(grants, access.INGESTION, layout.OPS, "overwrite", manifest)
    assert not access.permits(grants, access.INGESTION, layout.OPS, "delete", manifest)
    assert not access.permits(grants, access.INGESTION, layout.OPS, "create", audit)  # not its record
    assert access.permits(grants, access.EXPORTS, layout.OPS, "create", audit)
    assert not access.permits(grants, access.EXPORTS, layout.OPS, "delete", audit)
    # a company reads its own exports folder and nothing else there, not even the listing of the zone
    assert access.permits(grants, "cvs", layout.EXPORTS, "read", "cvs/seg.csv")
    assert not access.permits(grants, "cvs", layout.EXPORTS, "read", "gms/seg.csv")
    assert not access.permits(grants, "cvs", layout.EXPORTS, "list", "")
    assert access.permits(grants, "cvs", layout.EXPORTS, "list", "cvs/")
    # a company re-delivers a file (overwrite) but cannot take one back (delete)
    assert access.permits(grants, "cvs", "landing-cvs", "overwrite", "pos/f.csv")
    assert not access.permits(grants, "cvs", "landing-cvs", "delete", "pos/f.csv")


def test_a_policy_iam_cannot_express_is_refused() -> None:
    from lake.errors import LakeError

    scopes = {"ops": access.READ_WRITE, "ops/a/": access.READ_ONLY, "ops/a/b/": access.READ_WRITE}
    with pytest.raises(LakeError, match="IAM cannot express"):
        access.iam_statements(scopes, lambda z: f"arn:aws:s3:::{z}")


def test_seaweed_identities_carry_the_iam_policy() -> None:
    config = access.seaweed_config()
    ids = {i["name"]: i for i in config["identities"]}
    policies = {p["name"]: json.loads(p["content"]) for p in config["policies"]}
    assert "Admin" in ids[access.ADMIN]["actions"]
    assert ids["cvs"]["actions"] == [] and ids["cvs"]["policyNames"] == ["lake-cvs"]
    allowed = {(a, r) for s in policies["lake-cvs"]["Statement"] if s["Effect"] == "Allow"
               for a in s["Action"] for r in s["Resource"]}
    assert allowed == {
        ("s3:PutObject", "arn:aws:s3:::landing-cvs/*"), ("s3:AbortMultipartUpload", "arn:aws:s3:::landing-cvs/*"),
        ("s3:ListMultipartUploadParts", "arn:aws:s3:::landing-cvs/*"),
        ("s3:ListBucket", "arn:aws:s3:::landing-cvs"), ("s3:ListBucket", "arn:aws:s3:::raw-cvs"),
        ("s3:GetObject", "arn:aws:s3:::raw-cvs/*"), ("s3:GetObject", "arn:aws:s3:::exports/cvs/*"),
        ("s3:ListBucket", "arn:aws:s3:::exports"),  # with an s3:prefix condition: cvs/ only
    }
    keys = [i["credentials"][0]["accessKey"] for i in ids.values()]
    assert len(set(keys)) == len(keys)


def test_seaweed_grants_hold_on_each_lake_served() -> None:
    """With two lakes on one server every statement covers both, the denies of the nested scopes included."""
    one = {p["name"]: json.loads(p["content"]) for p in access.seaweed_config()["policies"]}
    two = {p["name"]: json.loads(p["content"]) for p in access.seaweed_config(bucket_prefixes=("", "t-"))["policies"]}
    for name, doc in one.items():
        expected = {(s["Effect"], a, r.replace(":::", f":::{p}"), json.dumps(s.get("Condition"), sort_keys=True))
                    for s in doc["Statement"] for a in s["Action"] for r in s["Resource"] for p in ("", "t-")}
        got = {(s["Effect"], a, r, json.dumps(s.get("Condition"), sort_keys=True))
               for s in two[name]["Statement"] for a in s["Action"] for r in s["Resource"]}
        assert got == expected, name
    assert any(s["Effect"] == "Deny" and "arn:aws:s3:::t-ops/manifests/ingest/*" in s["Resource"]
               for s in two["lake-ingestion"]["Statement"])


# --- against the server ---------------------------------------------------------------------


def _bases(zone: str) -> list[str]:
    """Key prefixes to probe in `zone`: the zone itself and every scope prefix any principal holds in it."""
    prefixes = {access.split_scope(s)[1] for scopes in access.policy().values() for s in scopes
                if access.split_scope(s)[0] == zone}
    return sorted(prefixes | {""})


@pytest.fixture(scope="module")
def seeded(seaweed: SeaweedServer) -> SeaweedServer:
    admin = seaweed.client()
    for zone in ZONES:
        for base in _bases(zone):
            admin.put_object(Bucket=zone, Key=f"{base}{SEED}", Body=b"seed")
    return seaweed


def _try(client, operation: str, zone: str, base: str, principal: str) -> str | None:
    """None if the request succeeded, else the S3 error code."""
    try:
        if operation == "read":
            client.get_object(Bucket=zone, Key=f"{base}{SEED}")["Body"].read()
        elif operation == "list":
            client.list_objects_v2(Bucket=zone, Prefix=f"{base}probe/")
        elif operation == "create":
            client.put_object(Bucket=zone, Key=f"{base}probe/new-by-{principal}.txt", Body=b"x")
        elif operation == "overwrite":
            client.put_object(Bucket=zone, Key=f"{base}{SEED}", Body=b"seed")
        else:
            client.delete_object(Bucket=zone, Key=f"{base}probe/delete-me-{principal}.txt")
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def _expected_locally(grants: access.Policy, principal: str, zone: str, operation: str, key: str) -> bool:
    # SeaweedFS has no s3:if-none-match condition key: locally a create-only scope also lets a put
    # replace a key (see infra.access). Deletes there are refused, on both stores.
    if operation == "overwrite" and access.allowed(grants, principal, zone, access.CREATE, key):
        return True
    return access.permits(grants, principal, zone, operation, key)


@pytest.mark.integration
@pytest.mark.parametrize("principal", access.principals())
def test_access_matrix(seeded: SeaweedServer, principal: str) -> None:
    """Every principal x zone x prefix x read/list/create/overwrite/delete, with real requests."""
    grants = access.policy()
    admin = seeded.client()
    client = seeded.client(principal, retries=1)
    wrong = []
    for zone in ZONES:
        for base in _bases(zone):
            admin.put_object(Bucket=zone, Key=f"{base}probe/delete-me-{principal}.txt", Body=b"x")
            for operation in access.OPERATIONS:
                key = f"{base}probe/" if operation == "list" else f"{base}probe/x"
                expected = _expected_locally(grants, principal, zone, operation, key)
                error = _try(client, operation, zone, base, principal)
                if expected and error is not None:
                    wrong.append(f"{operation} {zone}/{base}: denied ({error}) but the policy allows it")
                elif not expected and error != "AccessDenied":
                    wrong.append(f"{operation} {zone}/{base}: got {error or 'success'} but the policy denies it")
            for leftover in (f"{base}probe/delete-me-{principal}.txt", f"{base}probe/new-by-{principal}.txt"):
                admin.delete_object(Bucket=zone, Key=leftover)
    assert not wrong, f"{principal}:\n" + "\n".join(wrong)


@pytest.mark.integration
@pytest.mark.parametrize("principal", access.JOBS)
def test_no_grant_reaches_another_lake(seeded: SeaweedServer, principal: str) -> None:
    """The grants name the buckets of the lakes served: a lake under another prefix is the administrator's only."""
    other = "nogrant-"
    admin = seeded.client()
    zones = [z for z in ZONES if access.governing(access.policy(), principal, z)]
    have = {b["Name"] for b in admin.list_buckets()["Buckets"]}
    for zone in zones:
        if other + zone not in have:
            admin.create_bucket(Bucket=other + zone)
        admin.put_object(Bucket=other + zone, Key=SEED, Body=b"seed")
        admin.put_object(Bucket=other + zone, Key=f"probe/delete-me-{principal}.txt", Body=b"x")
    client = seeded.client(principal, retries=1)
    for zone in zones:
        for operation in access.OPERATIONS:
            assert _try(client, operation, other + zone, "", principal) == "AccessDenied", (operation, zone)


@pytest.mark.integration
def test_unknown_and_anonymous_callers_are_refused(seeded: SeaweedServer) -> None:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    anon = boto3.client(
        "s3",
        endpoint_url=seeded.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=layout.OPS, Key=SEED)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    forged = boto3.client(
        "s3",
        endpoint_url=seeded.endpoint,
        region_name="us-east-1",
        aws_access_key_id="lake-dev-admin",
        aws_secret_access_key="wrong",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as e:
        forged.list_objects_v2(Bucket=layout.OPS)
    assert e.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}


@pytest.mark.integration
def test_cli_env_points_at_the_server_as_a_principal(seeded: SeaweedServer, monkeypatch) -> None:
    import boto3

    from lake.s3cli import s3

    monkeypatch.setenv("LAKE_STATE", str(seeded.home.parent))
    runner = CliRunner()
    status = runner.invoke(s3, ["status"])
    assert status.exit_code == 0 and "running" in status.output and seeded.endpoint in status.output
    up = runner.invoke(s3, ["up"])
    assert up.exit_code == 0 and "already running" in up.output
    env = runner.invoke(s3, ["env", "--as", "cvs"])
    assert env.exit_code == 0
    exported = dict(
        line[len("export ") :].split("=", 1) for line in env.output.splitlines() if line.startswith("export ")
    )
    assert exported["LAKE_URI"] == "s3://" and exported["AWS_ENDPOINT_URL"] == seeded.endpoint
    cvs = boto3.client(
        "s3",
        endpoint_url=exported["AWS_ENDPOINT_URL"],
        region_name=exported["AWS_REGION"],
        aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"],
    )
    cvs.put_object(Bucket="landing-cvs", Key="probe/env.txt", Body=b"x")
    with pytest.raises(ClientError):
        cvs.get_object(Bucket="raw-gms", Key=SEED)
    bad = runner.invoke(s3, ["env", "--as", "nobody"])
    assert bad.exit_code != 0
