"""Spark's S3A connector jars: fetched once per machine with Maven, cached outside git.

The pyspark wheel ships the Hadoop client but not `hadoop-aws` nor the AWS SDK v2 it needs
(DESIGN §10). `python -m transforms.jars` fetches them ahead of time (the SDK bundle is hundreds
of MB) and prints them for `spark-submit --jars`; `spark_session` calls `ensure_s3a_jars()` before
it builds a session for an S3 lake (in-process launches only: under spark-submit the driver JVM is
already running, so the jars must come in with `--jars`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyspark

from lake.config import cache_dir
from lake.errors import LakeError

POM = Path(__file__).resolve().parent / "spark-s3a" / "pom.xml"


def hadoop_version() -> str:
    """The Hadoop version bundled with Spark: hadoop-aws must match it exactly.

    Under spark-submit pyspark is imported from a zip, so SPARK_HOME is asked first.
    """
    homes = [Path(os.environ["SPARK_HOME"])] if os.environ.get("SPARK_HOME") else []
    homes.append(Path(pyspark.__file__).resolve().parent)
    for home in homes:
        for jar in sorted((home / "jars").glob("hadoop-client-api-*.jar")):
            m = re.fullmatch(r"hadoop-client-api-(.+)\.jar", jar.name)
            if m:
                return m.group(1)
    raise LakeError(f"no hadoop-client-api jar in {' or '.join(str(h / 'jars') for h in homes)}",
                    "reinstall pyspark (`make install`) or set SPARK_HOME")


def jars_dir() -> Path:
    return cache_dir() / "jars" / f"hadoop-{hadoop_version()}"


def _complete(folder: Path, version: str) -> list[Path]:
    jars = sorted(folder.glob("*.jar"))
    names = [j.name for j in jars]
    if f"hadoop-aws-{version}.jar" in names and any(n.startswith("bundle-") for n in names):
        return jars
    return []


def ensure_s3a_jars(quiet: bool = False) -> list[Path]:
    """The S3A jars (hadoop-aws and the AWS SDK bundle), downloading them the first time only."""
    version = hadoop_version()
    folder = jars_dir()
    if jars := _complete(folder, version):
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LakeError("Spark needs the S3A connector jars for an S3 lake, and Maven (`mvn`) is not installed",
                        f"install Maven, or copy hadoop-aws-{version}.jar and the AWS SDK v2 bundle jar into {folder}")
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if not quiet:
        print(f"fetching hadoop-aws {version} and the AWS SDK bundle into {folder} (once per machine)...",
              file=sys.stderr)
    cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dhadoop.version={version}", "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not _complete(tmp, version):
        shutil.rmtree(tmp, ignore_errors=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise LakeError(f"Maven could not fetch the S3A jars: {' | '.join(tail) or 'no jars'}",
                        "check that the Maven registry is reachable (proxy settings in ~/.m2/settings.xml), "
                        "then run `python -m transforms.jars`")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)  # all or nothing: a half download never looks complete
    return _complete(folder, version)


def main() -> None:
    """Fetch the jars if needed and print them comma-separated, for `spark-submit --jars "$(...)"`."""
    try:
        jars = ensure_s3a_jars()
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(",".join(str(j) for j in jars))


if __name__ == "__main__":
    main()
