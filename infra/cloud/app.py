"""The CDK app: one stack, `<prefix>lake`, built of the constructs named for what they hold.

    cdk synth                       (cdk.json runs this module)
    python -m infra.cloud synth     (the same, without the CDK CLI)
"""

from __future__ import annotations

from aws_cdk import App, Environment, Stack, Tags
from constructs import Construct

from expectations.rules import SharingRules, load_rules
from infra import access
from infra.cloud import artifacts
from infra.cloud.catalog import Catalog
from infra.cloud.config import CloudConfig
from infra.cloud.jobs import Jobs
from infra.cloud.roles import Roles
from infra.cloud.zones import Zones
from orchestration.schedules import Schedule, load_schedules


class LakeStack(Stack):
    """Zone buckets, principal roles, the query catalog, and the jobs with their schedules."""

    def __init__(self, scope: Construct, cid: str, config: CloudConfig, rules: SharingRules,
                 grants: access.Policy, schedules: list[Schedule], **kwargs) -> None:
        super().__init__(scope, cid, description="Group customer data lake (infra/cloud)", **kwargs)
        self.config = config
        self.zones = Zones(self, "Zones", config, rules)
        self.roles = Roles(self, "Roles", config, grants, self.zones.key)
        self.catalog = Catalog(self, "Catalog", config, rules, self.roles.roles[access.ANALYST])
        self.jobs = Jobs(self, "Jobs", config, self.roles.roles, self.zones.key, schedules,
                         self.catalog.crawler_name)
        Tags.of(self).add("project", "group-lake")


def build(app: App, config: CloudConfig | None = None) -> LakeStack:
    """The lake's stack in `app`, configured from the app's context and the environment."""
    config = config or CloudConfig.resolve(_context(app))
    artifacts.build_all(config.build_dir)  # offline and deterministic: the deployed jobs are never stale
    env = Environment(account=config.account, region=config.region)
    rules = load_rules()
    return LakeStack(app, config.prefix.rstrip("-"), config, rules, access.policy(list(rules.companies)),
                     load_schedules(), env=env)


def _context(app: App) -> dict:
    from infra.cloud.config import ENV

    return {k: v for k in ENV if (v := app.node.try_get_context(k)) is not None}


def main() -> None:
    app = App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
