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
    """How to reach an S3-compatible store; read from the usual AWS variables."""

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_env(cls) -> S3Settings:
        return cls(
            endpoint=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


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
