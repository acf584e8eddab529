"""Configuration in one place: where the lake is and how to reach it.

Everything comes from command-line flags or the environment, so the same commands run
against the embedded default (a local folder) and an S3-compatible store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LAKE = ".lake"
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARING_RULES = REPO_ROOT / "expectations" / "sharing_rules.yml"


def sharing_rules_path() -> Path:
    """The sharing rules in force: `LAKE_SHARING_RULES` (a steward trying a change), else the repository's."""
    return Path(os.environ.get("LAKE_SHARING_RULES") or SHARING_RULES)
CONTRACTS_DIR = REPO_ROOT / "ingestion" / "contracts"


def state_dir() -> Path:
    """Per-checkout state outside the lake: the S3 server's data, pid files, logs."""
    return Path(os.environ.get("LAKE_STATE", REPO_ROOT / ".lake-state")).resolve()


def segments_dir() -> Path:
    """The segment definitions exports read (`exports/segments`; LAKE_SEGMENTS for another folder)."""
    return Path(os.environ.get("LAKE_SEGMENTS", REPO_ROOT / "exports" / "segments")).resolve()


def cache_dir() -> Path:
    """Per-machine cache for large downloads (the Spark S3 connector jars), outside git."""
    base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(os.environ.get("LAKE_CACHE", Path(base) / "group-lake")).resolve()


@dataclass(frozen=True)
class S3Settings:
    """How to reach an S3-compatible store; read from the usual AWS variables.

    With static keys (`access_key`, and `session_token` for temporary ones) every engine signs with them.
    Without, every engine uses the standard AWS credential chain (`AWS_PROFILE` and the shared config and
    credentials files, SSO, web identity, container and instance roles); `profile` names one profile of
    those files for DuckDB's chain to use instead of its own choice (pyarrow and boto3 follow `AWS_PROFILE`).
    """

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"
    session_token: str | None = None
    profile: str | None = None

    @property
    def static(self) -> bool:
        """Static keys are set (else: the credential chain)."""
        return bool(self.access_key)

    @classmethod
    def from_env(cls) -> S3Settings:
        return cls(
            endpoint=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
            access_key=os.environ.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        )


def aws_credential_source_visible() -> bool:
    """Whether the AWS credential chain has something to find here, judged without a network call.

    Static keys, a profile, the shared files, web identity, a container role, or an EC2 instance (whose role
    the chain asks the instance metadata service for).
    """
    env = os.environ
    if any(env.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")):
        return True
    files = [env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), env.get("AWS_CONFIG_FILE", "~/.aws/config")]
    if any(Path(f).expanduser().is_file() for f in files):
        return True
    if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return False
    try:
        return "amazon" in Path("/sys/class/dmi/id/sys_vendor").read_text().lower()
    except OSError:
        return False


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake lives: a local folder (default) or `s3://` (zones are buckets)."""

    uri: str = DEFAULT_LAKE
    s3: S3Settings = field(default_factory=S3Settings)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    @classmethod
    def resolve(cls, lake: str | None = None) -> LakeConfig:
        """`--lake` wins, then `LAKE_URI`, then `.lake` in the working directory."""
        uri = lake or os.environ.get("LAKE_URI") or DEFAULT_LAKE
        if not uri.startswith("s3://"):
            uri = str(Path(uri).expanduser().resolve())
        return cls(uri=uri, s3=S3Settings.from_env())
