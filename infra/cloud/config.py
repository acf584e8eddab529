"""The deployment's settings, in one place: from CDK context (`-c key=value`) or the environment.

Every setting has a default that synthesises offline (no account lookups): without an account the
stack is environment-agnostic; the CLI fills in the account of the profile at deploy time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.config import REPO_ROOT
from lake.errors import LakeError

KEY_SOURCES = ("s3", "kms")  # S3-managed keys (SSE-S3), or one customer-managed KMS key for every zone
DEFAULT_PREFIX = "group-lake-"
DEFAULT_REGION = "ap-northeast-1"  # the group runs in Tokyo
DEFAULT_EMR_RELEASE = "emr-spark-8.0.0"  # Spark 4.0 runtime; the jobs are written for pyspark 4
BUILD_DIR = REPO_ROOT / "build"

# context key -> environment variable
ENV = {
    "account": "LAKE_CLOUD_ACCOUNT",
    "region": "LAKE_CLOUD_REGION",
    "prefix": "LAKE_CLOUD_PREFIX",
    "key": "LAKE_CLOUD_KEY",
    "emr_release": "LAKE_CLOUD_EMR_RELEASE",
    "emr_image": "LAKE_CLOUD_EMR_IMAGE",
    "build_dir": "LAKE_CLOUD_BUILD_DIR",
}


@dataclass(frozen=True)
class CloudConfig:
    """Where and how the lake is deployed."""

    account: str | None = None  # None: environment-agnostic template
    region: str = DEFAULT_REGION
    prefix: str = DEFAULT_PREFIX  # bucket names are <prefix><zone>; the lake URI is s3://<prefix>
    key: str = "s3"
    emr_release: str = DEFAULT_EMR_RELEASE
    emr_image: str | None = None  # a custom EMR Serverless image with the binary dependencies (pyarrow)
    build_dir: Path = BUILD_DIR  # the job artifacts (`make cloud-artifacts`)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}-", self.prefix):
            raise LakeError(f"name prefix {self.prefix!r} cannot start S3 bucket names",
                            "use lowercase letters, digits and hyphens, ending with '-', e.g. acme-lake-")
        if self.key not in KEY_SOURCES:
            raise LakeError(f"key source {self.key!r} is not one of {KEY_SOURCES}",
                            "set -c key=s3 (S3-managed) or -c key=kms (a customer-managed KMS key)")
        if self.account is not None and not re.fullmatch(r"\d{12}", self.account):
            raise LakeError(f"account {self.account!r} is not a 12-digit AWS account id", "fix -c account=...")

    @property
    def lake_uri(self) -> str:
        """What jobs in the cloud pass as `--lake`: zones are the buckets `<prefix><zone>`."""
        return f"s3://{self.prefix}"

    @property
    def glue_prefix(self) -> str:
        return self.prefix.replace("-", "_")

    def bucket(self, zone: str) -> str:
        return f"{self.prefix}{zone}"

    @classmethod
    def resolve(cls, context: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> CloudConfig:
        """Context wins over the environment, which wins over the defaults."""
        context = context or {}
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, var in ENV.items():
            value = context.get(key) or environ.get(var)
            if value not in (None, ""):
                values[key] = value
        if "account" not in values and environ.get("CDK_DEFAULT_ACCOUNT"):
            values["account"] = environ["CDK_DEFAULT_ACCOUNT"]  # set by the CDK CLI from the profile
        if "build_dir" in values:
            values["build_dir"] = Path(values["build_dir"]).resolve()
        return cls(**values)
