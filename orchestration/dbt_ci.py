"""dbt in CI (`make dbt-ci`): build and test every model on a generated sample, then a slim-CI build of only what
changed (`state:modified+`) against the recorded manifest.

    python -m orchestration.dbt_ci build            full `dbt build` (models, data tests, unit tests) on a sample
    python -m orchestration.dbt_ci slim [--state D] `dbt build --select state:modified+ --state D`

The sample is the deterministic group zone of tests/integration/group_fixture.py (no Spark needed), in
build/dbt-ci/lake. The recorded manifest (`--state`, default `DBT_STATE`, else build/dbt/state) is the one of
the last production build; when none was recorded, the base commit's (`DBT_BASE_REF`, default `main`) models
are parsed into it, so a branch is compared with what it would change. `build` records its manifest there when
it runs on the base branch itself (`DBT_RECORD_STATE=1`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from lake.config import REPO_ROOT, LakeConfig
from lake.errors import LakeError
from lake.storage import Lake

WORK = REPO_ROOT / "build" / "dbt-ci"
STATE = REPO_ROOT / "build" / "dbt" / "state"
SAMPLE_MEMBERS = 3000
SAMPLE_DAYS = 120


def sample_lake(fresh: bool = False) -> Lake:
    """The generated sample group zone (made once; `fresh` remakes it)."""
    from tests.integration.group_fixture import FixtureConfig, write_group_fixture

    root = WORK / "lake"
    if fresh and root.exists():
        shutil.rmtree(root)
    lake = Lake(LakeConfig.resolve(str(root)))
    if not lake.list_files("group", "member_day"):
        write_group_fixture(lake, FixtureConfig(members=SAMPLE_MEMBERS, days=SAMPLE_DAYS, seed=3))
    return lake


def base_manifest(ref: str, out: Path, lake: Lake) -> Path:
    """Parse the models of git `ref` into `out` (its manifest.json): the state slim CI compares with.

    Parsed with the environment and vars of the build (`lake`): the sources' locations come from them, and a
    source that moved would count every model downstream as modified.
    """
    from lake.build import _environment, dbt_env, dbt_vars
    from orchestration.manifest import build_manifest

    tree = out / "project"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", ref, "models"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise LakeError(f"cannot read models/ at {ref!r}: {archive.stderr.decode().strip()}",
                        "set DBT_BASE_REF to a commit or branch that exists, or pass --state")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    with _environment(dbt_env(lake)):
        build_manifest(out, tree / "models", ["--vars", json.dumps(dbt_vars(lake))])
    return out / "manifest.json"


def run_full(record: bool) -> int:
    from lake.build import PROJECT_DIR, run_build

    t0 = time.perf_counter()
    lake = sample_lake()
    result = run_build(lake)
    print(result.summary(), f"(sample {SAMPLE_MEMBERS} members x {SAMPLE_DAYS} days; "
                            f"{time.perf_counter() - t0:.0f}s with the sample)")
    for f in result.failures:
        print("  FAILED", f)
    if result.success and record:
        STATE.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / "target" / "manifest.json", STATE / "manifest.json")
        print(f"recorded the manifest in {STATE}")
    return 0 if result.success else 1


def run_slim(state: Path | None) -> int:
    from lake.build import _invoke, dbt_vars, marts_db_path, run_build

    if state is None:
        state = Path(os.environ["DBT_STATE"]) if os.environ.get("DBT_STATE") else None
    if state is None or not (state / "manifest.json").exists():
        ref = os.environ.get("DBT_BASE_REF", "main")
        if subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                          capture_output=True, check=False).returncode != 0:
            print(f"{ref} is not a commit here (a shallow clone?): comparing with HEAD")
            ref = "HEAD"
        state = WORK / "base-state"
        print(f"no recorded manifest: parsing models/ at {ref} into {state}")
        base_manifest(ref, state, sample_lake())
    lake = sample_lake()
    if not marts_db_path(lake).exists():
        run_build(lake)  # the unchanged models the changed ones read come from a full build of the sample
    # dbt directly (the sample is throwaway: no staging and publishing as `lake build` does)
    res, seconds = _invoke(lake, ["build", "--select", "state:modified+", "--state", str(state),
                                  "--vars", json.dumps(dbt_vars(lake))])
    built = [r.node.name for r in (getattr(res, "result", None) or [])]
    failed = [f"{r.node.name}: {(r.message or '').strip()[:200]}" for r in (getattr(res, "result", None) or [])
              if str(r.status) in ("error", "fail")]
    print(f"slim CI (state:modified+ against {state}): {len(built)} nodes in {seconds:.0f}s"
          + (f": {', '.join(sorted(built)[:20])}" if built else " (nothing changed)"))
    for f in failed:
        print("  FAILED", f)
    return 0 if res.success and not failed else 1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m orchestration.dbt_ci", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="full dbt build and tests on the generated sample")
    b.add_argument("--record", action="store_true", default=os.environ.get("DBT_RECORD_STATE") == "1",
                   help="record the manifest as the state slim CI compares with")
    s = sub.add_parser("slim", help="build only the changed models and what depends on them")
    s.add_argument("--state", type=Path, default=None, help="folder holding the recorded manifest.json")
    args = ap.parse_args(argv)
    try:
        code = run_full(args.record) if args.cmd == "build" else run_slim(args.state)
    except LakeError as e:
        print(f"error: {e.what}\nfix: {e.fix}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
