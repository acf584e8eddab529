"""The jobs in the cloud: the Spark transforms on EMR Serverless, their schedules on EventBridge
Scheduler (from `orchestration/schedules.yml`), and the segment-export function on Lambda.

The Spark job is `transforms/run.py` as `spark-submit` runs it anywhere else, from the artifact in
`build/emr/` (`infra.cloud.artifacts`, rebuilt at every synthesis); it runs as the `transforms` role.
EMR Serverless has no stored job definition: a job is the StartJobRun request, written here once
(`job_run`) and used by the schedule and by the `StartTransforms` output for a run by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_emrserverless as emr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import access
from infra.cloud.config import CloudConfig
from lake.errors import LakeError
from orchestration.schedules import Schedule, eventbridge_cron

EXPORT_HANDLER = "exports.lambda_handler.handler"  # agreed with exports/: handler(event, context) -> dict
# Driver and executor sizes: the data per date is modest (DESIGN §8), so few mid-sized executors.
SPARK_CONF = {
    "spark.driver.cores": "2",
    "spark.driver.memory": "8g",
    "spark.executor.cores": "4",
    "spark.executor.memory": "16g",
    "spark.dynamicAllocation.maxExecutors": "8",
}


def _artifact(build_dir: Path, rel: str) -> str:
    path = build_dir / rel
    if not path.exists():
        raise LakeError(f"the cloud job artifact {path} is missing", "build it first: `make cloud-artifacts`")
    return str(path)


class Jobs(Construct):
    """EMR Serverless application, the transforms job, the schedules and the export function."""

    def __init__(self, scope: Construct, cid: str, config: CloudConfig, roles: dict, key: kms.IKey | None,
                 schedules: list[Schedule], crawler_name: str) -> None:
        super().__init__(scope, cid)
        stack = Stack.of(self)
        transforms_role: iam.Role = roles[access.TRANSFORMS]
        endpoint = f"https://s3.{Aws.REGION}.{Aws.URL_SUFFIX}"

        # The pseudonymisation key: generated once, never leaves Secrets Manager but into the job's memory.
        self.secret = secretsmanager.Secret(
            self, "PseudonymKey",
            secret_name=f"{config.prefix}pseudonym-key",
            description="Key of the keyed hash that pseudonymises local member IDs (transforms)",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN,  # a new key would change every pseudonym
        )
        self.secret.grant_read(transforms_role)

        entry = assets.Asset(self, "EmrEntry", path=_artifact(config.build_dir, "emr/emr_entry.py"))
        archive = assets.Asset(self, "EmrArchive", path=_artifact(config.build_dir, "emr/lake_jobs.zip"))
        entry.grant_read(transforms_role)
        archive.grant_read(transforms_role)

        self.application = emr.CfnApplication(
            self, "Spark",
            name=f"{config.prefix}spark",
            release_label=config.emr_release,
            type="Spark",
            architecture="X86_64",
            # Nothing runs (nothing is billed) between jobs: start on submit, stop after 15 idle minutes.
            auto_start_configuration=emr.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emr.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=15),
            # A ceiling on what a runaway job can cost.
            maximum_capacity=emr.CfnApplication.MaximumAllowedResourcesProperty(
                cpu="40 vCPU", memory="160 GB", disk="1000 GB"),
            image_configuration=emr.CfnApplication.ImageConfigurationInputProperty(image_uri=config.emr_image)
            if config.emr_image else None,
        )

        env = {
            "LAKE_URI": config.lake_uri,
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_REGION": Aws.REGION,
            "LAKE_S3A_JARS": "provided",  # EMR's Spark reads S3 itself
            "LAKE_PSEUDONYM_SECRET_ARN": self.secret.secret_arn,
            "PYTHONPATH": "./lake_jobs",
        }
        conf = [
            f"spark.archives={archive.s3_object_url}#lake_jobs",
            *(f"spark.emr-serverless.driverEnv.{k}={v}" for k, v in env.items()),
            "spark.executorEnv.PYTHONPATH=./lake_jobs",
            *(f"{k}={v}" for k, v in SPARK_CONF.items()),
        ]
        self.job_driver = {
            "sparkSubmit": {
                "entryPoint": entry.s3_object_url,
                "entryPointArguments": ["--lake", config.lake_uri],
                "sparkSubmitParameters": " ".join(f"--conf {c}" for c in conf),
            }
        }

        def job_run(name: str) -> dict:
            """The StartJobRun request of the transforms job, in the API's member names (clientToken by the caller)."""
            return {
                "applicationId": self.application.attr_application_id,
                "executionRoleArn": transforms_role.role_arn,
                "name": name,
                "jobDriver": self.job_driver,
                "executionTimeoutMinutes": 360,
            }

        # --- schedules (EventBridge Scheduler, in the schedules file's timezone) -----------------
        group = scheduler.CfnScheduleGroup(self, "Schedules", name=f"{config.prefix}lake")
        scheduler_role = iam.Role(self, "SchedulerRole", role_name=f"{config.prefix}scheduler",
                                  assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                                  description="EventBridge Scheduler starts the lake's jobs")
        crawler_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:crawler/{crawler_name}"
        targets = {
            "transforms": lambda s: scheduler.CfnSchedule.TargetProperty(
                arn=f"arn:{Aws.PARTITION}:scheduler:::aws-sdk:emrserverless:startJobRun",
                role_arn=scheduler_role.role_arn,
                input=stack.to_json_string({**job_run(s.name), "clientToken": "<aws.scheduler.execution-id>"}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=2),
            ),
            "catalog": lambda s: scheduler.CfnSchedule.TargetProperty(
                arn=f"arn:{Aws.PARTITION}:scheduler:::aws-sdk:glue:startCrawler",
                role_arn=scheduler_role.role_arn,
                input=json.dumps({"Name": crawler_name}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=2),
            ),
        }
        self.schedules: dict[str, scheduler.CfnSchedule] = {}
        for s in schedules:
            if s.runs not in targets:
                raise LakeError(f"schedule {s.name!r} runs {s.runs!r}, which the cloud deployment cannot start",
                                f"use one of {sorted(targets)} or add a target in infra/cloud/jobs.py")
            self.schedules[s.name] = scheduler.CfnSchedule(
                self, f"Schedule-{s.name}",
                name=f"{config.prefix}{s.name}",
                group_name=group.name,
                description=s.description[:512],
                schedule_expression=eventbridge_cron(s.cron),
                schedule_expression_timezone=s.timezone,
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                target=targets[s.runs](s),
            )
            self.schedules[s.name].node.add_dependency(group)
        scheduler_role.add_to_policy(iam.PolicyStatement(
            actions=["emr-serverless:StartJobRun"],
            resources=[self.application.attr_arn, f"{self.application.attr_arn}/jobruns/*"]))
        scheduler_role.add_to_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[transforms_role.role_arn],
            conditions={"StringLike": {"iam:PassedToService": "emr-serverless.amazonaws.com"}}))
        scheduler_role.add_to_policy(iam.PolicyStatement(actions=["glue:StartCrawler"], resources=[crawler_arn]))

        # --- the segment-export entry point (Lambda, as the exports principal) -------------------
        exports_role: iam.Role = roles[access.EXPORTS]
        log_group = logs.LogGroup(self, "ExportLogs", log_group_name=f"/aws/lambda/{config.prefix}export",
                                  retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.RETAIN)
        exports_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[f"{log_group.log_group_arn}:*"]))
        # An image, not a zip: DuckDB, pyarrow and numpy together exceed a zip function's 250 MB. Synthesis
        # only stages the build context; `cdk deploy` builds and pushes the image (Docker on the deployer).
        self.export_function = lambda_.DockerImageFunction(
            self, "Export",
            function_name=f"{config.prefix}export",
            description="Segment export for a campaign (lake export), as the exports principal",
            code=lambda_.DockerImageCode.from_image_asset(
                _artifact(config.build_dir, "export"), cmd=[EXPORT_HANDLER], platform=ecr_assets.Platform.LINUX_AMD64),
            architecture=lambda_.Architecture.X86_64,
            role=exports_role,
            memory_size=3008,  # DuckDB on a 1M-member segment: memory buys CPU on Lambda
            timeout=Duration.minutes(5),
            log_group=log_group,
            environment={
                "LAKE_URI": config.lake_uri,
                "AWS_ENDPOINT_URL_S3": endpoint,
                "LAKE_STATE": "/tmp/lake-state",  # the only writable folder on Lambda
                "HOME": "/tmp",
            },
        )

        CfnOutput(self, "LakeUri", value=config.lake_uri, description="--lake / LAKE_URI for jobs in this account")
        CfnOutput(self, "SparkApplicationId", value=self.application.attr_application_id)
        CfnOutput(self, "StartTransforms", description="aws emr-serverless start-job-run --cli-input-json '<this>'",
                  value=stack.to_json_string({**job_run("transforms-by-hand"), "clientToken": "by-hand-1"}))
