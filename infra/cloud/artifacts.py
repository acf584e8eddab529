"""The cloud job artifacts, built outside git into `build/` (`make cloud-artifacts`).

- `build/emr/`: `emr_entry.py` (the Spark entry point) and `lake_jobs.zip` (the `lake`, `transforms` and
  `expectations` packages with their data files, and the pure-Python dependency PyYAML), unpacked by
  Spark on the driver and executors (`spark.archives`). No S3A jars (EMR ships S3 support) and no
  pyspark; pyarrow is binary and comes from the image (see the README, Cloud deployment).
- `build/lambda/`: the segment-export function: the platform packages and, with `deps`, Linux wheels
  of its binary dependencies for the Lambda Python 3.11 runtime, pinned by `requirements.lock`.

Zips are written with fixed timestamps and sorted entries, so the same sources give the same bytes
(and the same asset hash: an unchanged job is not re-uploaded).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from lake.config import REPO_ROOT
from lake.errors import LakeError

JOB_PACKAGES = ("lake", "transforms", "expectations")
LAMBDA_PACKAGES = ("lake", "expectations", "exports")
PURE_DEPENDENCIES = ("yaml",)  # PyYAML runs without its C extension
LAMBDA_DEPENDENCIES = ("duckdb", "duckdb-extension-httpfs", "pyarrow", "pyyaml", "numpy")
DATA_SUFFIXES = (".py", ".yml", ".yaml", ".json", ".properties", ".sql")
EMR_ENTRY = Path(__file__).resolve().parent / "emr_entry.py"
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


def build_emr(out: Path) -> Path:
    """`out/emr_entry.py` and `out/lake_jobs.zip`; returns `out`."""
    entries: list[tuple[Path, str]] = []
    for name in JOB_PACKAGES:
        root = REPO_ROOT / name
        entries += [(f, f.relative_to(REPO_ROOT).as_posix()) for f in _files(root)]
    for name in PURE_DEPENDENCIES:
        root = _package_dir(name)
        entries += [(f, f.relative_to(root.parent).as_posix()) for f in _files(root) if f.suffix == ".py"]
    out.mkdir(parents=True, exist_ok=True)
    _write_zip(out / "lake_jobs.zip", entries)
    shutil.copyfile(EMR_ENTRY, out / "emr_entry.py")
    return out


def lambda_requirements(lock: Path = REPO_ROOT / "requirements.lock") -> list[str]:
    """The export function's binary dependencies at the versions the lock file pins (one list of versions)."""
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[name.lower().replace("_", "-")] = version.split(";")[0].strip()
    missing = [d for d in LAMBDA_DEPENDENCIES if d not in pins]
    if missing:
        raise LakeError(f"{lock} pins none of {missing}", "add them to requirements.lock")
    return [f"{d}=={pins[d]}" for d in LAMBDA_DEPENDENCIES]


def build_lambda(out: Path, deps: bool = True) -> Path:
    """The export function's code folder: the packages, and with `deps` the Linux wheels of its dependencies."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in LAMBDA_PACKAGES:
        root = REPO_ROOT / name
        if not root.is_dir():  # exports/ is built by its own issue; the function is wired up already
            continue
        for f in _files(root):
            dest = out / f.relative_to(REPO_ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    if deps:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(out), "--implementation", "cp",
               "--python-version", "3.11", "--platform", "manylinux2014_x86_64", "--only-binary=:all:",
               *lambda_requirements()]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LakeError(f"pip could not fetch the export function's wheels: {done.stderr.strip()[-400:]}",
                            "check that the package registry is reachable, then re-run `make cloud-artifacts`")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="build the cloud job artifacts into build/ (outside git)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "build", help="artifacts folder (default: build/)")
    ap.add_argument("--no-deps", action="store_true", help="skip the export function's binary wheels")
    args = ap.parse_args(argv)
    try:
        print(build_emr(args.out / "emr"))
        print(build_lambda(args.out / "lambda", deps=not args.no_deps))
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
