"""Storage at the edge: one object that reads and writes the lake, local folder or S3.

Stages never build paths or pick a filesystem themselves; they ask a `Lake` for a zone and a
path inside it (see `lake.layout`). That keeps the same code running embedded and on S3.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, NamedTuple
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lake.config import LakeConfig, aws_credential_source_visible
from lake.errors import LakeError


class FileStat(NamedTuple):
    rel: str  # path inside the zone
    size: int
    mtime: dt.datetime | None


class Lake:
    """A lake rooted at a local folder or at `s3://[bucket-prefix]` (zones are buckets)."""

    def __init__(self, cfg: LakeConfig) -> None:
        self.cfg = cfg
        if cfg.is_s3:
            s3 = cfg.s3
            if not s3.endpoint and not s3.static and not aws_credential_source_visible():
                raise LakeError(
                    f"the lake is {cfg.uri} but no S3 endpoint or credentials are set",
                    'run `eval "$(lake s3 env)"` for the local S3 server, or set AWS_ENDPOINT_URL and '
                    "AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
                )
            endpoint = urlparse(s3.endpoint) if s3.endpoint else None
            # Without static keys pyarrow uses the AWS SDK's default chain (profiles, SSO, instance roles).
            keys = (
                {"access_key": s3.access_key, "secret_key": s3.secret_key or "", "session_token": s3.session_token}
                if s3.static
                else {}
            )
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                **keys,
                region=s3.region,
                endpoint_override=endpoint.netloc if endpoint else None,
                scheme=endpoint.scheme if endpoint else "https",
                # A restarting store answers with errors for a few seconds: retry, don't lose data.
                retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=12),
                connect_timeout=5,
                request_timeout=60,
                allow_bucket_creation=True,
                check_directory_existence_before_creation=False,
            )
            self._root = ""
            self.bucket_prefix = cfg.uri[len("s3://") :].strip("/")
        else:
            self.fs = pafs.LocalFileSystem()
            self._root = cfg.uri
            self.bucket_prefix = ""

    # --- naming -------------------------------------------------------------------------

    @property
    def is_s3(self) -> bool:
        return self.cfg.is_s3

    def bucket(self, zone: str) -> str:
        return f"{self.bucket_prefix}{zone}"

    def path(self, zone: str, rel: str = "") -> str:
        """Path for pyarrow.fs: `<root>/<zone>/<rel>` locally, `<bucket>/<rel>` on S3."""
        base = self.bucket(zone) if self.is_s3 else f"{self._root}/{zone}"
        return f"{base}/{rel}".rstrip("/") if rel else base

    def uri(self, zone: str, rel: str = "") -> str:
        """Location for DuckDB and Spark: a local absolute path or `s3://bucket/key`."""
        return f"s3://{self.path(zone, rel)}" if self.is_s3 else self.path(zone, rel)

    def describe(self) -> str:
        return f"{self.cfg.uri} (endpoint {self.cfg.s3.endpoint})" if self.is_s3 else self.cfg.uri

    # --- zones --------------------------------------------------------------------------

    def is_lake(self) -> bool:
        """Whether a lake is here: its folder holds zone folders, or its store has zone buckets.

        A bucket this identity may not even look at counts as there (the store knows it; we may not).
        """
        from lake import layout

        if not self.is_s3:
            root = Path(self._root)
            if not root.is_dir():
                return False
            return any((root / z).is_dir() for z in layout.SHARED_ZONES) or any(
                p.is_dir() and p.name.startswith(("landing-", "raw-")) for p in root.iterdir())
        for zone in layout.SHARED_ZONES:
            try:
                if self.fs.get_file_info(self.path(zone)).type == pafs.FileType.Directory:
                    return True
            except OSError as e:
                if "ACCESS_DENIED" in str(e) or "AccessDenied" in str(e):
                    return True
                raise
        return False

    def ensure_zones(self, zones: list[str]) -> None:
        for zone in zones:
            try:
                self.fs.create_dir(self.path(zone))
            except OSError as e:
                # On S3 the administrator makes the buckets (`lake s3 up`); a job's credentials cannot
                # even look at zones outside its grants. Skip those: a real misuse fails at the write.
                if not (self.is_s3 and "ACCESS_DENIED" in str(e)):
                    raise

    # --- files --------------------------------------------------------------------------

    def exists(self, zone: str, rel: str) -> bool:
        return self.fs.get_file_info(self.path(zone, rel)).type != pafs.FileType.NotFound

    def stat_files(self, zone: str, prefix: str = "") -> list[FileStat]:
        """Every file under `prefix` with its size and modification time, paths relative to the zone, sorted."""
        base = self.path(zone)
        sel = pafs.FileSelector(self.path(zone, prefix), recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(sel)
        except FileNotFoundError:
            return []
        return sorted(FileStat(i.path[len(base) + 1 :], i.size or 0, i.mtime)
                      for i in infos if i.type == pafs.FileType.File)

    def list_files(self, zone: str, prefix: str = "") -> list[str]:
        """Every file under `prefix`, as paths relative to the zone, sorted."""
        return [f.rel for f in self.stat_files(zone, prefix)]

    def read_bytes(self, zone: str, rel: str) -> bytes:
        # compression=None: pyarrow would otherwise gunzip `*.gz` on the fly; we want the bytes as stored.
        with self.fs.open_input_stream(self.path(zone, rel), compression=None) as f:
            return f.read()

    def open_input(self, zone: str, rel: str) -> BinaryIO:
        return self.fs.open_input_file(self.path(zone, rel))  # type: ignore[return-value]

    @contextmanager
    def open_output(self, zone: str, rel: str) -> Iterator[BinaryIO]:
        """Write a file so that readers see all of it or none of it.

        Locally: a hidden temporary file, then an atomic rename (safe against a killed process; not
        fsynced, which would triple ingestion time on small files). On S3 a single PUT is atomic.
        """
        if self.is_s3:
            # compression=None: pyarrow would otherwise gzip again whatever is written to a `*.gz` key.
            with self.fs.open_output_stream(self.path(zone, rel), compression=None) as out:
                yield out  # type: ignore[misc]
            return
        final = Path(self.path(zone, rel))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as out:
                yield out  # type: ignore[misc]
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def write_bytes(self, zone: str, rel: str, data: bytes) -> None:
        with self.open_output(zone, rel) as out:
            out.write(data)

    def create_bytes(self, zone: str, rel: str, data: bytes) -> None:
        """Write a file that must not exist yet; FileExistsError if it does (append-only records).

        Locally the file is linked into place, which fails if the name is taken. On S3 the put carries
        `If-None-Match: *`, so the store itself refuses to replace an existing key (and on AWS the
        append-only grants of `infra.access` allow only such puts).
        """
        if not self.is_s3:
            final = Path(self.path(zone, rel))
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                tmp.write_bytes(data)
                os.link(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            return
        from botocore.exceptions import ClientError

        bucket, _, key = self.path(zone, rel).partition("/")
        try:
            self.s3_client().put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise FileExistsError(f"{self.uri(zone, rel)} already exists") from e
            raise

    def s3_client(self):
        """The boto3 S3 client of this lake's store (static keys and session token if set, else the standard
        credential chain), for what pyarrow's filesystem cannot do: conditional writes (`put_new`, the stage locks).
        One per lake, made once; boto3 clients are safe to share between threads (the lock's lease renewal)."""
        if getattr(self, "_client", None) is None:
            import boto3
            from botocore.config import Config

            s3 = self.cfg.s3
            # A session of its own: boto3's default one keeps the AWS config files of whenever it was made, and
            # making clients from it is not thread-safe.
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=s3.endpoint,
                aws_access_key_id=s3.access_key,
                aws_secret_access_key=s3.secret_key,
                aws_session_token=s3.session_token,
                region_name=s3.region,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 10, "mode": "standard"},
                              connect_timeout=5, read_timeout=30),
            )
        return self._client

    def move(self, zone: str, src: str, dst_zone: str, dst: str) -> None:
        """Rename locally (atomic); copy then delete on S3."""
        if not self.is_s3:
            Path(self.path(dst_zone, dst)).parent.mkdir(parents=True, exist_ok=True)
        self.fs.move(self.path(zone, src), self.path(dst_zone, dst))

    def delete(self, zone: str, rel: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.delete_file(self.path(zone, rel))

    def delete_dir(self, zone: str, rel: str) -> None:
        if not self.is_s3:
            shutil.rmtree(self.path(zone, rel), ignore_errors=True)
            return
        info = self.fs.get_file_info(self.path(zone, rel))
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self.path(zone, rel))
        elif self.is_s3:
            for f in self.list_files(zone, rel):
                self.delete(zone, f)


def open_lake(lake: str | None = None, create: bool = False) -> Lake:
    """The lake named by `--lake`, `LAKE_URI` or the default folder.

    A lake that is not there is refused unless `create` (a typo in `--lake` must not quietly make an
    empty lake and report success).
    """
    opened = Lake(LakeConfig.resolve(lake))
    if not create and not opened.is_lake():
        raise LakeError(
            f"there is no lake at {opened.describe()}",
            "check --lake / LAKE_URI; `lake generate` or `lake demo` create one, and `lake ingest --create` "
            "starts an empty one for real extracts",
        )
    return opened
