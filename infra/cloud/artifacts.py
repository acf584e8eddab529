"""The cloud job artifacts, built outside git into `build/` (`make cloud-artifacts`; synthesis rebuilds them).

- `build/emr/`: `emr_entry.py` (the Spark entry point) and `lake_jobs.zip` (the `lake`, `transforms` and
  `expectations` packages with their data files, and the pure-Python dependency PyYAML), which Spark
  unpacks on the driver and executors (`spark.archives`). No S3A jars (EMR's Spark reads S3 itself) and
  no pyspark. `build/emr/image/` is the build context of the custom EMR image with Python 3.11 and the
  binary dependencies (pyarrow), see `images/emr/Dockerfile`.
- `build/export/`: the build context of the segment-export function's image (Lambda, Python 3.11): the
  platform packages, `requirements.txt` and `images/export/Dockerfile`; `cdk deploy` builds the image.

Versions of third-party packages come from `requirements.lock` (one list of versions). Zips are written
with fixed timestamps and sorted entries, so the same sources give the same bytes and the same asset hash:
an unchanged job is not uploaded again.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import zipfile
from pathlib import Path

from lake.config import REPO_ROOT
from lake.errors import LakeError

JOB_PACKAGES = ("lake", "transforms", "expectations")
EXPORT_PACKAGES = ("lake", "expectations", "exports")
PURE_DEPENDENCIES = ("yaml",)  # PyYAML runs without its C extension
EMR_IMAGE_DEPENDENCIES = ("pyarrow", "numpy", "boto3")
EXPORT_DEPENDENCIES = ("duckdb", "duckdb-extension-httpfs", "pyarrow", "numpy", "pyyaml")
DATA_SUFFIXES = (".py", ".yml", ".yaml", ".json", ".properties", ".sql")
HERE = Path(__file__).resolve().parent
EMR_ENTRY = HERE / "emr_entry.py"
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES
                  and "__pycache__" not in p.parts)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(f"package {name!r} is not importable here", "run `make install` first")
    return Path(next(iter(spec.submodule_search_locations)))


def _write_zip(path: Path, entries: list[tuple[Path, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for src, arcname in sorted(entries, key=lambda e: e[1]):
            info = zipfile.ZipInfo(arcname, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, src.read_bytes())
    tmp.replace(path)


def _write_if_changed(path: Path, data: bytes) -> None:
    """Keep the file (and its mtime) when the content is the same: Docker and CDK hash contexts."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def pinned(names: tuple[str, ...], lock: Path = REPO_ROOT / "requirements.lock") -> list[str]:
    """`name==version` for each of `names`, at the version the lock file pins."""
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[name.lower().replace("_", "-")] = version.split(";")[0].strip()
    missing = [d for d in names if d not in pins]
    if missing:
        raise LakeError(f"{lock} pins none of {missing}", "add them to requirements.lock")
    return [f"{d}=={pins[d]}" for d in names]


def build_emr(out: Path) -> Path:
    """`out/emr_entry.py`, `out/lake_jobs.zip` and the custom image's context `out/image/`; returns `out`."""
    entries: list[tuple[Path, str]] = []
    for name in JOB_PACKAGES:
        entries += [(f, f.relative_to(REPO_ROOT).as_posix()) for f in _files(REPO_ROOT / name)]
    for name in PURE_DEPENDENCIES:
        root = _package_dir(name)
        entries += [(f, f.relative_to(root.parent).as_posix()) for f in _files(root) if f.suffix == ".py"]
    out.mkdir(parents=True, exist_ok=True)
    _write_zip(out / "lake_jobs.zip", entries)
    _write_if_changed(out / "emr_entry.py", EMR_ENTRY.read_bytes())
    _write_if_changed(out / "image" / "Dockerfile", (HERE / "images" / "emr" / "Dockerfile").read_bytes())
    _write_if_changed(out / "image" / "requirements.txt", "\n".join(pinned(EMR_IMAGE_DEPENDENCIES)).encode() + b"\n")
    return out


def build_export(out: Path) -> Path:
    """The export function's image build context: packages, requirements.txt, Dockerfile; returns `out`."""
    wanted: dict[Path, bytes] = {
        Path("Dockerfile"): (HERE / "images" / "export" / "Dockerfile").read_bytes(),
        Path("requirements.txt"): "\n".join(pinned(EXPORT_DEPENDENCIES)).encode() + b"\n",
    }
    for name in EXPORT_PACKAGES:
        root = REPO_ROOT / name
        if root.is_dir():  # exports/ is built by its own issue; the function is wired up already
            wanted |= {f.relative_to(REPO_ROOT): f.read_bytes() for f in _files(root)}
    for rel, data in wanted.items():
        _write_if_changed(out / rel, data)
    for stale in [p for p in out.rglob("*") if p.is_file() and p.relative_to(out) not in wanted]:
        stale.unlink()  # a removed source file must not linger in the image
    return out


def build_all(build_dir: Path) -> None:
    build_emr(build_dir / "emr")
    build_export(build_dir / "export")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="build the cloud job artifacts into build/ (outside git)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "build", help="artifacts folder (default: build/)")
    args = ap.parse_args(argv)
    try:
        build_all(args.out)
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{args.out / 'emr'}\n{args.out / 'export'}")


if __name__ == "__main__":
    main()
