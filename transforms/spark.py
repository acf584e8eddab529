"""One SparkSession per run, configured for the lake it reads and writes (local folder or S3).

Local mode (`local[2]`) by default; any `--master` (standalone, YARN, k8s) runs the same jobs.
Start-up costs about 7 s, so a run builds one session and every job shares it; `warm_session`
starts it in the background while earlier stages run (the demo does this during ingestion).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from lake.storage import Lake
from transforms.jars import ensure_s3a_jars

DEFAULT_MASTER = "local[2]"


# S3A tries these in order: keys handed over in the Hadoop configuration (with a session token, or
# without), then the AWS SDK's default chain on each JVM: environment, Java system properties, web
# identity tokens, the shared profile files (AWS_PROFILE), container and EC2 instance roles.
CREDENTIAL_CHAIN = ",".join([
    "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
    "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider",
])


def s3a_conf(lake: Lake) -> dict[str, str]:
    """Hadoop S3A settings for the lake's endpoint and credentials (path-style, as SeaweedFS and MinIO need).

    Keys present in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) are
    handed to S3A so executors on other machines get them too; Spark redacts these settings in its
    logs, UI and event logs (`spark.redaction.regex` matches `secret`, `token` and `access.key`).
    Without them every JVM resolves credentials itself through the standard chain (`CREDENTIAL_CHAIN`).
    """
    s3 = lake.cfg.s3
    conf = {
        # lake.uri() gives s3:// URIs; route them to S3A too.
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.aws.credentials.provider": CREDENTIAL_CHAIN,
        # A restarting store answers with errors for a while: retry rather than fail the job.
        "spark.hadoop.fs.s3a.attempts.maximum": "10",
        "spark.hadoop.fs.s3a.retry.limit": "10",
        # Small stores do not return the version/etag headers S3A checks by default.
        "spark.hadoop.fs.s3a.change.detection.mode": "none",
        "spark.hadoop.fs.s3a.bucket.probe": "0",
    }
    if s3.endpoint:
        ep = urlparse(s3.endpoint)
        conf["spark.hadoop.fs.s3a.endpoint"] = s3.endpoint
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(ep.scheme == "https").lower()
    if s3.access_key and s3.secret_key:
        conf["spark.hadoop.fs.s3a.access.key"] = s3.access_key
        conf["spark.hadoop.fs.s3a.secret.key"] = s3.secret_key
        if token := os.environ.get("AWS_SESSION_TOKEN"):
            conf["spark.hadoop.fs.s3a.session.token"] = token
    return conf


LOG4J = Path(__file__).resolve().parent / "log4j2.properties"


def local_driver_memory(total_bytes: int | None = None) -> str:
    """Local mode's heap (the driver is the executor): a third of the machine's memory, from 2g to 8g.

    Why not a fixed 4g: at 50M purchase lines a task's in-memory sort needs a pointer array of 128 MB or more
    beside the cached rows, and with 4g the job died of OutOfMemoryError (with 8g it ran, in 353 s). The heap
    grows only as far as the work needs, so a small run costs no more.
    """
    total = total_bytes if total_bytes is not None else os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(2, min(8, round(total / 3 / 2**30)))}g"


def driver_jvm_flags(local: bool) -> list[str]:
    """JVM flags of the driver: in local mode it runs every task, so it gets the throughput collector.

    Java 17's default G1 does part of its work beside the application (concurrent marking, remembered sets)
    and puts barriers on every reference write; a batch job on two cores gives those cycles to the tasks.
    bench_conform's Spark step on 10M lines as the first job of a fresh session: 97.3 and 97.5 s with G1, 86.6
    and 90.1 s with the parallel collector; run again in the same session, about 72 s with either.
    """
    return ["-XX:+UseParallelGC"] if local else []


def session_conf(lake: Lake, master: str | None = None) -> dict[str, str]:
    """Every setting of the run's session; pure, so tests can check it without starting a JVM.

    Under spark-submit (the JVM is already up and hands Python its gateway) the master and driver
    memory are spark-submit's to decide: settings made here would silently override `--master`.
    """
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ and master is None
    master = master or os.environ.get("SPARK_MASTER") or DEFAULT_MASTER
    local = master.startswith("local")
    conf = {
        "spark.master": master,
        "spark.app.name": "group-lake-transforms",
        "spark.sql.session.timeZone": "UTC",  # raw and group timestamps are UTC instants
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Few, larger tasks: the conform step partitions by date (one task holds whole dates), and 200 tiny
        # shuffle partitions cost more than they give on two cores.
        "spark.sql.shuffle.partitions": os.environ.get("LAKE_SPARK_SHUFFLE_PARTITIONS", "4" if local else "8"),
        # No adaptive execution: it re-plans a cached frame, so its scan loses the frame's partitioning by
        # date and every aggregate over it shuffled everything again (purchases, member_day, their partial
        # aggregates). The plan here is fixed by design: one shuffle by date, explicit broadcasts.
        "spark.sql.adaptive.enabled": "false",
        # A feed's root holds one folder per date: list it on the driver, not with a Spark job per feed.
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "100000",
        # Writes partitioned by date keep one open file per date in a task instead of sorting every row
        # by date first (beyond 32 dates in one task the writer falls back to sorting the rest).
        "spark.sql.optimizer.plannedWrite.enabled": "false",
        "spark.sql.maxConcurrentOutputFileWriters": "32",
        # No `_SUCCESS` markers: a run publishes its own files (run.Job.publish).
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.sql.parquet.compression.codec": "zstd",
        # The run caches the conformed rows once and reads them a few times: building compressed cache batches
        # cost about 40% more than plain ones (8M rows: 33 s against 20 s on two cores), and what does not fit
        # in memory goes to local disk (MEMORY_AND_DISK).
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
        # Int96 is legacy; micros with UTC adjustment is what DuckDB and dbt read as timestamptz.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Raw folders are date=YYYY-MM-DD: keep the partition value typed as a date.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "true",
        "spark.driver.memory": os.environ.get("LAKE_SPARK_DRIVER_MEMORY",
                                              local_driver_memory() if local else "4g"),
        # Quiet driver logs (warnings and up); the JVM reads this before Spark's default profile.
        "spark.driver.extraJavaOptions": " ".join([f"-Dlog4j2.configurationFile={LOG4J}", *driver_jvm_flags(local)]),
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    # The driver's servers bind to loopback (local mode included); on a real cluster set SPARK_DRIVER_HOST.
    host = os.environ.get("SPARK_DRIVER_HOST", "127.0.0.1")
    conf["spark.driver.host"] = host
    conf["spark.driver.bindAddress"] = os.environ.get("SPARK_DRIVER_BIND_ADDRESS", host)
    if not local:
        conf["spark.executor.memory"] = os.environ.get("LAKE_SPARK_EXECUTOR_MEMORY", "1g")
    if lake.is_s3:
        conf.update(s3a_conf(lake))
    else:
        # The checksumming local filesystem writes a `.crc` beside every file; the group zone is Parquet
        # (which checksums its pages), read by DuckDB, so the raw local filesystem is used instead.
        conf["spark.hadoop.fs.file.impl"] = "org.apache.hadoop.fs.RawLocalFileSystem"
    if submitted:
        for key in ("spark.master", "spark.driver.memory", "spark.driver.host", "spark.driver.bindAddress",
                    "spark.executor.memory"):
            conf.pop(key, None)
    return conf


def spark_session(lake: Lake, master: str | None = None) -> SparkSession:
    """The run's session: S3A jars fetched and configured when the lake is on S3."""
    conf = session_conf(lake, master)
    # A cluster whose Spark already ships S3A (EMR, Dataproc images) sets LAKE_S3A_JARS=provided.
    if lake.is_s3 and os.environ.get("LAKE_S3A_JARS") != "provided":
        conf["spark.jars"] = ",".join(str(j) for j in ensure_s3a_jars())
    # Read by the JVM launcher before any setting: without it Spark looks up the host's address and warns.
    os.environ.setdefault("SPARK_LOCAL_IP", conf.get("spark.driver.bindAddress", "127.0.0.1"))
    # pyspark 4.3 warns that it does not fully support pandas 3 when it loads its pandas helpers; the
    # transforms never go through pandas, so the warning is noise in every run.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    builder = SparkSession.builder
    for k, v in conf.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def warm_session(lake: Lake, master: str | None = None) -> threading.Thread:
    """Start the run's session in a background thread, so the JVM is up when the transforms need it.

    `spark_session` later returns the same session (a second caller waits for the first to finish).
    Failures are left for that later call to report.
    """
    def start() -> None:
        with contextlib.suppress(Exception):  # reported by the real call
            spark_session(lake, master)

    thread = threading.Thread(target=start, name="spark-warm-up", daemon=True)
    thread.start()
    return thread
