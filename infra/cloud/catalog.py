"""The query catalog (AWS Glue Data Catalog) so Athena and Redshift Spectrum users query the lake.

- `<prefix>group`: one table per group-zone table, declared from `transforms/group_schema.yml` (the
  interface of the transforms), with partition projection: no crawler and no `MSCK REPAIR` for new
  dates; companies come from the sharing rules.
- `<prefix>marts`: filled by a crawler over the marts zone (dbt decides the marts), which runs as the
  analyst (it reads what analysts read) on the schedule of the schedules file (`runs: catalog`).
- An Athena workgroup with managed query results, so analysts need no results bucket.
"""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from expectations.rules import SharingRules
from infra.cloud.config import CloudConfig
from lake import layout
from lake.errors import LakeError
from transforms.schema import group_tables

PARQUET = glue.CfnTable.StorageDescriptorProperty  # for brevity below
FIRST_DATE = "2020-01-01"  # partition projection range start; the lake holds nothing older


def _partition_type(name: str, columns: dict[str, str]) -> str:
    if name in columns:
        return columns[name]
    if name == "company":
        return "string"
    if name.endswith("_date"):
        return "date"
    raise LakeError(f"group partition column {name!r} has no type in transforms/group_schema.yml",
                    "list it under the table's columns")


def projection(partitions: dict[str, str], companies: list[str], location: str) -> dict[str, str]:
    """Athena partition projection parameters for the partition columns (`company`, dates)."""
    params = {"projection.enabled": "true"}
    for name, kind in partitions.items():
        if name == "company":
            params |= {f"projection.{name}.type": "enum", f"projection.{name}.values": ",".join(companies)}
        elif kind == "date":
            unit = "MONTHS" if name == "month" else "DAYS"  # money_monthly: first days of months only
            params |= {f"projection.{name}.type": "date", f"projection.{name}.format": "yyyy-MM-dd",
                       f"projection.{name}.range": f"{FIRST_DATE},NOW", f"projection.{name}.interval": "1",
                       f"projection.{name}.interval.unit": unit}
        else:
            raise LakeError(f"no partition projection for column {name!r} ({kind})",
                            "partition group tables by company or by a date")
    params["storage.location.template"] = location + "/".join(f"{n}=${{{n}}}" for n in partitions) + "/"
    return params


class Catalog(Construct):
    """Glue databases for the group zone and the marts, the group tables, the marts crawler, a workgroup."""

    def __init__(self, scope: Construct, cid: str, config: CloudConfig, rules: SharingRules,
                 analyst_role: iam.Role) -> None:
        super().__init__(scope, cid)
        account = Aws.ACCOUNT_ID
        self.group_db = f"{config.glue_prefix}group"
        self.marts_db = f"{config.glue_prefix}marts"
        self.crawler_name = f"{config.prefix}marts"
        databases = {}
        for name, what in ((self.group_db, "group zone"), (self.marts_db, "marts")):
            databases[name] = glue.CfnDatabase(
                self, f"Db-{name}", catalog_id=account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(name=name, description=f"The {what} of the lake"))
        companies = list(rules.companies)
        self.tables: dict[str, glue.CfnTable] = {}
        for table, spec in group_tables().items():
            columns = spec["columns"]
            parts = {p: _partition_type(p, columns) for p in spec.get("partition_by", [])}
            location = f"s3://{config.bucket(layout.GROUP)}/{table}/"
            params = {"classification": "parquet", "EXTERNAL": "TRUE"}
            if parts:
                params |= projection(parts, companies, location)
            self.tables[table] = glue.CfnTable(
                self, f"Group-{table}", catalog_id=account, database_name=self.group_db,
                table_input=glue.CfnTable.TableInputProperty(
                    name=table, description=spec.get("description"), table_type="EXTERNAL_TABLE",
                    parameters=params,
                    partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in parts.items()],
                    storage_descriptor=PARQUET(
                        location=location,
                        columns=[glue.CfnTable.ColumnProperty(name=c, type=t)
                                 for c, t in columns.items() if c not in parts],
                        input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                        output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                        serde_info=glue.CfnTable.SerdeInfoProperty(
                            serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
                    ),
                ),
            )
            self.tables[table].node.add_dependency(databases[self.group_db])

        self.crawler = glue.CfnCrawler(
            self, "MartsCrawler", name=self.crawler_name, role=analyst_role.role_arn, database_name=self.marts_db,
            description="Catalogues the dbt marts for Athena and Redshift Spectrum",
            targets=glue.CfnCrawler.TargetsProperty(s3_targets=[glue.CfnCrawler.S3TargetProperty(
                path=f"s3://{config.bucket(layout.MARTS)}/", exclusions=["*.duckdb", "**/_*/**"])]),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="DEPRECATE_IN_DATABASE"),
            configuration=json.dumps({"Version": 1.0, "CreatePartitionIndex": False}),
        )
        catalog_arn = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{account}"
        dbs = [f"{catalog_arn}:database/{d}" for d in (self.group_db, self.marts_db)]
        tables = [f"{catalog_arn}:table/{d}/*" for d in (self.group_db, self.marts_db)]
        # Analysts (through Athena) read the catalog; the crawler, as the analyst, maintains the marts' tables.
        analyst_role.add_to_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                     "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"],
            resources=[f"{catalog_arn}:catalog", *dbs, *tables]))
        analyst_role.add_to_policy(iam.PolicyStatement(
            actions=["glue:CreateTable", "glue:UpdateTable", "glue:BatchCreatePartition", "glue:CreatePartition",
                     "glue:UpdatePartition", "glue:BatchUpdatePartition"],
            resources=[f"{catalog_arn}:catalog", f"{catalog_arn}:database/{self.marts_db}",
                       f"{catalog_arn}:table/{self.marts_db}/*"]))
        analyst_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{account}:log-group:/aws-glue/crawlers:*"]))

        self.workgroup = athena.CfnWorkGroup(
            self, "Workgroup", name=f"{config.prefix}analysts",
            description="Analysts' queries over the group zone and the marts",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                bytes_scanned_cutoff_per_query=100 * 1024**3,  # 100 GB: about 0.5 USD, a ceiling on one mistake
                managed_query_results_configuration=athena.CfnWorkGroup.ManagedQueryResultsConfigurationProperty(
                    enabled=True),
            ),
        )
        analyst_role.add_to_policy(iam.PolicyStatement(
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                     "athena:StopQueryExecution", "athena:GetWorkGroup"],
            resources=[f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{account}:workgroup/{config.prefix}analysts"]))
