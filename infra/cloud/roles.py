"""One IAM role per principal of the access policy (`infra.access`), with that policy's statements.

The statements are the ones the local SeaweedFS server enforces (`access.iam_statements`), with the
real bucket names and S3 conditional writes for append-only prefixes: a change to the policy changes
both deployments. Services assume the roles of the jobs they run (EMR Serverless runs `transforms`,
Lambda runs `exports`); people and other runners of this account assume the rest (`sts:AssumeRole`,
granted to them by the account's administrators, e.g. through IAM Identity Center).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra import access
from infra.cloud.config import CloudConfig

# Roles that services assume: only the service for the jobs they run; the analyst's role is assumed by
# analysts and by the marts catalog crawler (it needs exactly what analysts may read).
SERVICE = {access.TRANSFORMS: "emr-serverless.amazonaws.com", access.EXPORTS: "lambda.amazonaws.com"}
SHARED_WITH_SERVICE = {access.ANALYST: "glue.amazonaws.com"}
KMS_READ = ["kms:Decrypt"]
KMS_WRITE = ["kms:Decrypt", "kms:GenerateDataKey"]


def bucket_arn(config: CloudConfig):
    """The ARN of a zone's bucket, from the zone name (names are fixed: no lookups, reviewable policies)."""
    return lambda zone: f"arn:{Aws.PARTITION}:s3:::{config.bucket(zone)}"


class Roles(Construct):
    """`roles[principal]`: an IAM role per principal, its zone grants in a managed policy of its own."""

    def __init__(self, scope: Construct, cid: str, config: CloudConfig, grants: access.Policy,
                 key: kms.IKey | None) -> None:
        super().__init__(scope, cid)
        self.roles: dict[str, iam.Role] = {}
        for principal, scopes in grants.items():
            trust: iam.IPrincipal = iam.AccountRootPrincipal()
            if principal in SERVICE:
                trust = iam.ServicePrincipal(SERVICE[principal])
            elif principal in SHARED_WITH_SERVICE:
                trust = iam.CompositePrincipal(iam.AccountRootPrincipal(),
                                               iam.ServicePrincipal(SHARED_WITH_SERVICE[principal]))
            statements = access.iam_statements(scopes, bucket_arn(config), conditional_writes=True)
            if key is not None:
                acts = frozenset().union(*scopes.values())
                kms_actions = KMS_WRITE if acts & {access.WRITE, access.CREATE} else KMS_READ
                statements.append({"Effect": "Allow", "Action": kms_actions, "Resource": [key.key_arn]})
            zones_policy = iam.ManagedPolicy(
                self, f"Zones-{principal}",
                managed_policy_name=f"{config.prefix}{principal}-zones",
                description=f"Zone grants of {principal}, generated from infra/access.py",
                document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements}),
            )
            self.roles[principal] = iam.Role(
                self, f"Role-{principal}",
                role_name=f"{config.prefix}{principal}",
                assumed_by=trust,
                managed_policies=[zones_policy],
                description=f"The {principal} principal of the group lake (infra/access.py)",
            )
