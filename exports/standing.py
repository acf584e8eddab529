"""Standing segment exports (`exports/standing.yml`): the requests the scheduler runs after every build."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from exports.export import DEFAULT_HOLDOUT, ExportRequest
from lake.config import REPO_ROOT
from lake.errors import LakeError

STANDING_FILE = REPO_ROOT / "exports" / "standing.yml"
KEYS = {"segment", "company", "purpose", "holdout"}


def load_standing(path: Path | None = None) -> list[ExportRequest]:
    """The standing requests (`LAKE_STANDING_EXPORTS` points elsewhere), each checked for unknown keys."""
    path = path or Path(os.environ.get("LAKE_STANDING_EXPORTS") or STANDING_FILE)
    try:
        entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("exports") or []
    except (OSError, yaml.YAMLError, AttributeError) as e:
        raise LakeError(f"standing exports {path} cannot be read: {e}", "fix the file (see its header)") from e
    out = []
    for i, e in enumerate(entries):
        unknown = set(e) - KEYS if isinstance(e, dict) else {"(not a mapping)"}
        if unknown or not {"segment", "company"} <= set(e):
            raise LakeError(f"standing export {i + 1} in {path}: needs segment and company, knows only "
                            f"{', '.join(sorted(KEYS))}; got {sorted(e) if isinstance(e, dict) else e!r}",
                            "fix the entry")
        out.append(ExportRequest(e["segment"], company=e["company"], purpose=e.get("purpose"),
                                 holdout=float(e.get("holdout", DEFAULT_HOLDOUT)), requested_by="scheduler"))
    return out
