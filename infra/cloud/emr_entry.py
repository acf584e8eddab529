"""EMR Serverless entry point of the transforms: `transforms.run` as spark-submit runs it elsewhere.

The one addition: the pseudonymisation key comes from Secrets Manager (the job is given the secret's
ARN, never the key), so it is in neither the job definition, the schedule nor the Spark plan.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    arn = os.environ.get("LAKE_PSEUDONYM_SECRET_ARN")
    if arn and not os.environ.get("LAKE_PSEUDONYM_KEY"):
        import boto3  # in every EMR image

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        os.environ["LAKE_PSEUDONYM_KEY"] = secret
    from transforms.run import main as run

    run(sys.argv[1:])


if __name__ == "__main__":
    main()
