"""`python -m infra.cloud synth [--out DIR] [-c key=value ...]`: the templates, offline, without the CDK CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lake.config import REPO_ROOT
from lake.errors import LakeError


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m infra.cloud", description="the lake's AWS CDK app")
    sub = ap.add_subparsers(dest="command", required=True)
    synth = sub.add_parser("synth", help="write the CloudFormation template(s) to the output folder")
    synth.add_argument("--out", type=Path, default=REPO_ROOT / "cdk.out", help="output folder (default: cdk.out)")
    synth.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                       help="settings as for `cdk synth -c`: account, region, prefix, key (s3|kms), emr_release, "
                            "emr_image, build_dir")
    args = ap.parse_args(argv)
    try:
        context = {}
        for item in args.context:
            key, sep, value = item.partition("=")
            if not sep:
                raise LakeError(f"context {item!r} is not KEY=VALUE", "write e.g. -c prefix=acme-lake-")
            context[key] = value
        from aws_cdk import App

        from infra.cloud.app import build

        app = App(outdir=str(args.out), context=context)
        stack = build(app)
        assembly = app.synth()
        template = Path(assembly.directory) / stack.template_file
        print(f"{stack.stack_name}: {template}")
    except LakeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
