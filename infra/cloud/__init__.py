"""The cloud deployment: an AWS CDK (Python) app that deploys the lake to one AWS account (DESIGN §13).

`python -m infra.cloud synth` (or `cdk synth`) writes the CloudFormation template offline. Everything
it deploys is generated from the project's single sources: zones from `lake.layout`, companies and
retention from the sharing rules, IAM from `infra.access`, schedules from `orchestration/schedules.yml`.
"""

import os

# jsii runs the CDK in Node.js; Node 20 (what this machine kind has) works but prints a banner per run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
