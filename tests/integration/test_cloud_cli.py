"""`cdk synth` with the pinned CDK CLI (`make cdk`) and the repository's cdk.json: offline, no account."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from expectations.rules import load_rules
from lake import layout
from lake.config import REPO_ROOT

CDK = REPO_ROOT / "infra" / "cloud" / "node_modules" / ".bin" / "cdk"


@pytest.mark.integration
def test_cdk_synth_writes_the_template_offline(tmp_path: Path) -> None:
    assert CDK.exists(), "the CDK CLI is installed by `make cdk` (part of `make test`)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env |= {"AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "true",
            "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    out = tmp_path / "cdk.out"
    done = subprocess.run(
        [str(CDK), "synth", "--no-notices", "--quiet", "--output", str(out),
         "-c", "prefix=cli-lake-", "-c", f"build_dir={tmp_path / 'build'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    template = json.loads((out / "cli-lake.template.json").read_text())
    buckets = sorted(r["Properties"]["BucketName"] for r in template["Resources"].values()
                     if r["Type"] == "AWS::S3::Bucket")
    assert buckets == sorted(f"cli-lake-{z}" for z in layout.all_zones(list(load_rules().companies)))
    assert (tmp_path / "build" / "emr" / "lake_jobs.zip").exists()  # the app built the job artifact itself
