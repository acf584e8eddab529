"""One S3 bucket per zone (DESIGN §2): encrypted, public access blocked, TLS only, retention as lifecycle.

The zones are `lake.layout`'s, the companies and the retention days the sharing rules'. A zone kind
with `retention_days: null` keeps its data until its owner deletes it (no expiration rule).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from expectations.rules import SharingRules
from infra.cloud.config import CloudConfig
from lake import layout

VERSIONED = (layout.OPS, layout.EXPORTS)  # records and files that leave the lake: keep every version


class Zones(Construct):
    """The zone buckets (`buckets[zone]`) and, with `key=kms`, the one key that encrypts them."""

    def __init__(self, scope: Construct, cid: str, config: CloudConfig, rules: SharingRules) -> None:
        super().__init__(scope, cid)
        self.key: kms.Key | None = None
        if config.key == "kms":
            self.key = kms.Key(self, "Key", alias=f"alias/{config.prefix}lake", enable_key_rotation=True,
                               description="Encrypts every zone bucket of the group lake",
                               removal_policy=RemovalPolicy.RETAIN)
        self.buckets: dict[str, s3.Bucket] = {}
        for zone in layout.all_zones(list(rules.companies)):
            days = rules.retention_days.get(layout.zone_kind(zone))
            versioned = zone in VERSIONED
            self.buckets[zone] = s3.Bucket(
                self, f"Zone-{zone}",
                bucket_name=config.bucket(zone),
                encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
                encryption_key=self.key,
                bucket_key_enabled=bool(self.key),  # one data key per bucket, not per object: KMS costs stay small
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                versioned=versioned,
                lifecycle_rules=_lifecycle(days, versioned),
                removal_policy=RemovalPolicy.RETAIN,  # data outlives the stack
            )


def _lifecycle(days: int | None, versioned: bool) -> list[s3.LifecycleRule]:
    rules = [s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7))]
    if days is not None:
        rules.append(s3.LifecycleRule(
            id=f"retention-{days}-days",
            expiration=Duration.days(days),
            # A replaced or deleted version is kept no longer than the zone's retention either.
            noncurrent_version_expiration=Duration.days(days) if versioned else None,
        ))
    return rules
