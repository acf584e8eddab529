"""The dbt manifest the Dagster definitions read: built once by `dbt parse` (`make dagster-manifest`), not at
every start of the webserver or daemon. `lake schedule up` builds it when it is missing or older than models/.
"""

from __future__ import annotations

import os
from pathlib import Path

from lake.config import REPO_ROOT
from lake.errors import LakeError

PROJECT_DIR = REPO_ROOT / "models"
TARGET_DIR = REPO_ROOT / "build" / "dbt"
MANIFEST = TARGET_DIR / "manifest.json"


def _sources() -> list[Path]:
    return [p for p in PROJECT_DIR.rglob("*") if p.is_file() and p.suffix in (".sql", ".yml", ".yaml", ".md", ".py")
            and not {"target", "logs"} & set(p.relative_to(PROJECT_DIR).parts)]


def is_stale(manifest: Path = MANIFEST) -> bool:
    """Missing, or older than a file of the dbt project."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _sources())


def build_manifest(target_dir: Path = TARGET_DIR, project_dir: Path = PROJECT_DIR, extra: list[str] | None = None
                   ) -> Path:
    """`dbt parse` of the project into `target_dir` (`extra`: more dbt arguments); returns the manifest's path."""
    from dbt.cli.main import dbtRunner

    target_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    res = dbtRunner().invoke(["parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                              "--target-path", str(target_dir), "--quiet", *(extra or [])])
    manifest = target_dir / "manifest.json"
    if not res.success or not manifest.exists():
        raise LakeError(f"dbt parse of {project_dir} failed: {res.exception or 'see models/logs/dbt.log'}",
                        "fix the model named above (`dbt parse` in models/ shows it)")
    return manifest


def manifest_path(manifest: Path = MANIFEST) -> Path:
    """The built manifest; a clear error when it was never built."""
    if not manifest.exists():
        raise LakeError(f"the dbt manifest {manifest} has not been built",
                        "run `make dagster-manifest` (or `lake schedule up`, which builds it)")
    return manifest


def ensure_manifest(manifest: Path = MANIFEST) -> Path:
    """Build the manifest if it is missing or older than models/ (used by `lake schedule up` and the tests)."""
    if is_stale(manifest):
        build_manifest(manifest.parent)
    return manifest


if __name__ == "__main__":  # `make dagster-manifest`
    print(build_manifest())
