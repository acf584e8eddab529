"""S3 settings from the environment: static keys with a session token, or the credential chain; a lake on S3 with
nothing to sign with is a clear error, not a hang on the instance metadata service."""

from __future__ import annotations

from pathlib import Path

import pytest

from lake.config import LakeConfig, S3Settings
from lake.errors import LakeError
from lake.storage import Lake

AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL",
       "AWS_ENDPOINT_URL_S3", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
       "AWS_CONTAINER_CREDENTIALS_FULL_URI")


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in AWS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def test_static_keys_carry_the_session_token(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    s3 = S3Settings.from_env()
    assert (s3.static, s3.access_key, s3.session_token) == (True, "AKIA1", "tok")


def test_no_keys_means_the_chain(bare_env: Path) -> None:
    s3 = S3Settings.from_env()
    assert not s3.static and s3.access_key is None and s3.session_token is None


def test_nothing_to_sign_with_is_a_clear_error(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LakeError, match="no S3 endpoint or credentials") as e:
        Lake(LakeConfig.resolve("s3://"))
    assert "AWS_PROFILE" in (e.value.fix or "")
    monkeypatch.setenv("AWS_PROFILE", "lake-analyst")  # a profile is something the chain can use
    assert not Lake(LakeConfig.resolve("s3://")).cfg.s3.static
    monkeypatch.delenv("AWS_PROFILE")
    (bare_env / "no-config").write_text("[default]\nregion = us-east-1\n")  # so are the shared files
    Lake(LakeConfig.resolve("s3://"))


def test_the_stage_lock_signs_with_the_session_token(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary keys are three values: a lock signed without the token would be refused by the store."""
    from lake import locks

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIA1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok-123")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    lake = Lake(LakeConfig.resolve("s3://"))
    sent: list[dict] = []

    class Sent(Exception):
        pass

    def capture(request, **_) -> None:
        sent.append(dict(request.headers))
        raise Sent  # nothing leaves this machine

    lake.s3_client().meta.events.register("before-send.s3.PutObject", capture)
    with pytest.raises(Sent), locks.stage_lock(lake, "transform"):
        pass
    assert sent and sent[0].get("X-Amz-Security-Token") == b"tok-123"
    assert b"Credential=ASIA1/" in sent[0]["Authorization"]
