"""The engines take the standard AWS credential chain, not only static keys (DESIGN §9): a profile in the shared
files reaches the real S3 server through DuckDB (`credential_chain`), pyarrow and boto3 with no key in the
environment, as that profile's identity; a session token in the environment is sent along with static keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.exceptions import ClientError

from infra import access
from infra.seaweed import SeaweedServer
from lake import duck, layout
from lake.config import LakeConfig
from lake.storage import Lake

pytestmark = pytest.mark.integration
PROFILE = "lake-ingestion"
MINE = ("probe/chain.txt", b"written through the chain")


@pytest.fixture
def chain_env(seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a profile names the identity (ingestion): no key, token or endpoint credentials in the environment."""
    c = access.dev_credentials(access.INGESTION)
    (tmp_path / "credentials").write_text(
        f"[{PROFILE}]\naws_access_key_id = {c.access_key}\naws_secret_access_key = {c.secret_key}\n")
    (tmp_path / "config").write_text(f"[profile {PROFILE}]\nregion = us-east-1\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", seaweed.endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def _boto3(seaweed: SeaweedServer):
    return boto3.session.Session().client("s3", endpoint_url=seaweed.endpoint)  # a fresh session reads the env


def test_a_profile_reaches_the_store_through_every_engine(chain_env: None, seaweed: SeaweedServer,
                                                          s3_lake: Callable[..., Lake]) -> None:
    s3_lake().write_bytes(layout.GROUP, "probe/not-for-ingestion.txt", b"x")  # as the administrator
    lake = Lake(LakeConfig.resolve("s3://"))
    assert not lake.cfg.s3.static

    lake.write_bytes(layout.OPS, *MINE)  # pyarrow, through the SDK's default chain
    assert lake.read_bytes(layout.OPS, MINE[0]) == MINE[1]
    with pytest.raises(OSError, match="ACCESS_DENIED"):  # as ingestion: no grant on the group zone
        lake.read_bytes(layout.GROUP, "probe/not-for-ingestion.txt")

    con = duck.connect(lake)  # DuckDB's credential_chain secret
    assert con.execute(f"select content from read_text('{lake.uri(layout.OPS, MINE[0])}')").fetchone() == (
        MINE[1].decode(),)
    with pytest.raises(duckdb.Error, match="403"):
        con.execute(f"select * from read_text('{lake.uri(layout.GROUP, 'probe/not-for-ingestion.txt')}')").fetchall()

    created = f"probe/created-{uuid.uuid4().hex[:8]}.txt"
    lake.create_bytes(layout.OPS, created, b"once")  # boto3 (the ledger's exclusive put), default chain
    with pytest.raises(FileExistsError):
        lake.create_bytes(layout.OPS, created, b"twice")

    client = _boto3(seaweed)  # boto3's default chain: the same profile for a user's own scripts
    assert client.get_object(Bucket=layout.OPS, Key=MINE[0])["Body"].read() == MINE[1]
    with pytest.raises(ClientError, match="AccessDenied"):
        client.get_object(Bucket=layout.GROUP, Key="probe/not-for-ingestion.txt")


def test_a_session_token_is_sent_with_static_keys(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local server has no temporary credentials: a request that carries a token is refused, one without
    is not. So a refusal with the token set shows that each engine sent it."""
    for key, value in seaweed.env(access.INGESTION).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    plain = Lake(LakeConfig.resolve("s3://"))
    plain.write_bytes(layout.OPS, *MINE)
    uri = plain.uri(layout.OPS, MINE[0])
    assert duck.connect(plain).execute(f"select content from read_text('{uri}')").fetchone() == (MINE[1].decode(),)
    plain.create_bytes(layout.OPS, f"probe/created-{uuid.uuid4().hex[:8]}.txt", b"x")  # boto3

    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    tokened = Lake(LakeConfig.resolve("s3://"))
    assert tokened.cfg.s3.session_token == "a-session-token"
    with pytest.raises(OSError, match=r"(?i)InvalidAccessKeyId|ACCESS_DENIED|403"):
        tokened.read_bytes(layout.OPS, MINE[0])
    with pytest.raises(duckdb.Error, match="403"):
        duck.connect(tokened).execute(f"select content from read_text('{uri}')").fetchall()
    with pytest.raises(ClientError, match=r"InvalidAccessKeyId|AccessDenied|Forbidden"):
        tokened.create_bytes(layout.OPS, f"probe/created-{uuid.uuid4().hex[:8]}.txt", b"x")
