"""The access policy, enforced by the real S3 server: every principal x zone x read/write/list (DESIGN §9)."""

from __future__ import annotations

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
    for c in COMPANIES:  # a company reaches its own landing (drop box) and raw (read) zones, nothing else
        assert grants[c] == {layout.landing(c): access.DROP_BOX, layout.raw(c): access.READ_ONLY}
    assert all(z not in grants[access.ANALYST] for z in ZONES if z.startswith(("raw-", "landing-")))
    assert layout.QUARANTINE not in grants[access.ANALYST]
    assert set(grants[access.ANALYST]) == {layout.GROUP, layout.MARTS, layout.OPS}
    assert all(access.WRITE not in acts for acts in grants[access.ANALYST].values())
    for job in (access.INGESTION, access.TRANSFORMS, access.DBT, access.EXPORTS):
        assert access.WRITE in grants[job][layout.OPS]


def test_policy_grows_with_a_new_company() -> None:
    grants = access.policy([*COMPANIES, "newco"])
    assert grants["newco"] == {"landing-newco": access.DROP_BOX, "raw-newco": access.READ_ONLY}
    assert grants[access.INGESTION]["raw-newco"] == access.READ_WRITE
    assert grants[access.TRANSFORMS]["raw-newco"] == access.READ_ONLY


def test_seaweed_identities_are_bucket_scoped() -> None:
    ids = {i["name"]: i for i in access.seaweed_config()["identities"]}
    assert sorted(ids["cvs"]["actions"]) == ["List:landing-cvs", "List:raw-cvs", "Read:raw-cvs", "Write:landing-cvs"]
    assert "Admin" in ids[access.ADMIN]["actions"]
    keys = [i["credentials"][0]["accessKey"] for i in ids.values()]
    assert len(set(keys)) == len(keys)


# --- against the server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(seaweed: SeaweedServer) -> SeaweedServer:
    admin = seaweed.client()
    for zone in ZONES:
        admin.put_object(Bucket=zone, Key=SEED, Body=b"seed")
    return seaweed


def _try(client, action: str, zone: str, principal: str) -> str | None:
    """None if the request succeeded, else the S3 error code."""
    try:
        if action == access.READ:
            client.get_object(Bucket=zone, Key=SEED)["Body"].read()
        elif action == access.WRITE:
            client.put_object(Bucket=zone, Key=f"probe/by-{principal}.txt", Body=b"x")
        else:
            client.list_objects_v2(Bucket=zone, Prefix="probe/")
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


@pytest.mark.integration
@pytest.mark.parametrize("principal", access.principals())
def test_access_matrix(seeded: SeaweedServer, principal: str) -> None:
    grants = access.policy()
    client = seeded.client(principal, retries=1)
    wrong = []
    for zone in ZONES:
        for action in access.ACTIONS:
            expected = access.allowed(grants, principal, zone, action)
            error = _try(client, action, zone, principal)
            if expected and error is not None:
                wrong.append(f"{action} {zone}: denied ({error}) but the policy allows it")
            elif not expected and error != "AccessDenied":
                wrong.append(f"{action} {zone}: got {error or 'success'} but the policy denies it")
    admin = seeded.client()
    for zone in ZONES:
        admin.delete_object(Bucket=zone, Key=f"probe/by-{principal}.txt")
    assert not wrong, f"{principal}:\n" + "\n".join(wrong)


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
