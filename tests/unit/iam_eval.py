"""A small IAM evaluator for synthesised CloudFormation templates (test helper, not product code).

It reads what IAM would read: every identity policy attached to a role (inline, `AWS::IAM::Policy`,
customer managed policies) and every bucket policy, and decides a request the way IAM does within one
account: an explicit Deny wins, else any Allow, else denied. It knows only the condition operators the
templates use and fails on any other, so a new construct cannot slip past it unevaluated. It is written
from the IAM rules, not from `infra.access`, so the matrix it computes is an independent check.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

ACCOUNT = "111111111111"
REGION = "ap-northeast-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com",
          "AWS::StackName": "stack"}


def resolve(value, template: dict):
    """A CloudFormation value as a string: pseudo parameters, Join, Sub; references become `ref:<id>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v, template) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return PSEUDO.get(arg, f"ref:{arg}")
        if fn == "Fn::Join":
            sep, parts = arg
            return sep.join(str(resolve(p, template)) for p in parts)
        if fn == "Fn::GetAtt":
            lid, attr = arg
            target = template["Resources"].get(lid, {})
            props = target.get("Properties", {})
            if attr == "Arn" and target.get("Type") == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{resolve(props['BucketName'], template)}"
            if attr == "Arn" and target.get("Type") == "AWS::IAM::Role" and "RoleName" in props:
                return f"arn:aws:iam::{ACCOUNT}:role/{resolve(props['RoleName'], template)}"
            return f"getatt:{lid}.{attr}"
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m.group(1), f"ref:{m.group(1)}"), text)
    raise ValueError(f"cannot resolve {value!r}")


def _as_list(v) -> list:
    return v if isinstance(v, list) else [v]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def _matches(pattern: str, value: str, case: bool = True) -> bool:
    # IAM wildcards: * any run, ? one character (fnmatchcase also knows [..]; IAM has none in these templates)
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for op, tests in condition.items():
        for key, expected in tests.items():
            expected = [str(e).lower() if isinstance(e, bool) else str(e) for e in _as_list(expected)]
            present = key in context
            actual = context.get(key)
            if op == "Null":
                if (expected[0] == "true") != (not present):
                    return False
            elif op == "Bool":
                if not present or actual.lower() not in expected:
                    return False
            elif op == "StringEquals":
                if not present or actual not in expected:
                    return False
            elif op == "StringLike":
                if not present or not any(_matches(e, actual) for e in expected):
                    return False
            else:
                raise ValueError(f"condition operator {op} is not known to the evaluator")
    return True


def _applies(statement: dict, request: Request) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError(f"NotAction/NotResource not known to the evaluator: {statement}")
    if not any(_matches(a, request.action, case=False) for a in _as_list(statement["Action"])):
        return False
    if not any(_matches(r, request.resource) for r in _as_list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), request.context)


@dataclass
class Account:
    """The roles of a template with their identity statements, and the bucket policies by bucket name."""

    roles: dict[str, list[dict]]  # role name -> statements
    bucket_policies: dict[str, list[dict]]  # bucket name -> statements
    unknown_policies: list[str]  # managed policies whose text is not in the template (AWS managed)

    def decide(self, role: str, request: Request) -> bool:
        statements = list(self.roles[role])
        bucket = request.resource.split(":::", 1)[1].split("/", 1)[0] if ":::" in request.resource else ""
        for s in self.bucket_policies.get(bucket, []):
            principals = _as_list(s.get("Principal", {}).get("AWS", [])) if isinstance(s.get("Principal"), dict) \
                else _as_list(s.get("Principal", []))
            if "*" in principals or any(p.endswith(f":role/{role}") for p in principals):
                statements.append(s)
        matching = [s for s in statements if _applies(s, request)]
        if any(s["Effect"] == "Deny" for s in matching):
            return False
        return any(s["Effect"] == "Allow" for s in matching)


def account_of(template: dict) -> Account:
    res = template["Resources"]
    resolved = {lid: resolve(r["Properties"].get("RoleName", f"ref:{lid}"), template)
                for lid, r in res.items() if r["Type"] == "AWS::IAM::Role"}
    roles: dict[str, list[dict]] = {name: [] for name in resolved.values()}
    unknown: list[str] = []

    def statements(doc: dict) -> list[dict]:
        out = []
        for s in _as_list(doc["Statement"]):
            s = dict(s)
            for k in ("Action", "NotAction"):
                if k in s:
                    s[k] = _as_list(s[k])
            for k in ("Resource", "NotResource"):
                if k in s:
                    s[k] = [str(x) for x in _as_list(resolve(s[k], template))]
            if "Condition" in s:
                s["Condition"] = {op: {key: [v if isinstance(v, bool) else str(resolve(v, template))
                                             for v in _as_list(val)]
                                       for key, val in tests.items()}
                                  for op, tests in s["Condition"].items()}
            if "Principal" in s and isinstance(s["Principal"], dict):
                s["Principal"] = {kind: [str(resolve(v, template)) for v in _as_list(who)]
                                  for kind, who in s["Principal"].items()}
            out.append(s)
        return out

    managed = {lid: statements(r["Properties"]["PolicyDocument"]) for lid, r in res.items()
               if r["Type"] == "AWS::IAM::ManagedPolicy"}
    for lid, r in res.items():
        props = r["Properties"]
        if r["Type"] == "AWS::IAM::Role":
            name = resolved[lid]
            for p in props.get("Policies", []):
                roles[name] += statements(p["PolicyDocument"])
            for arn in props.get("ManagedPolicyArns", []):
                if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in managed:
                    roles[name] += managed[arn["Ref"]]
                else:
                    unknown.append(str(resolve(arn, template)))
        elif r["Type"] == "AWS::IAM::Policy":
            for role_ref in props.get("Roles", []):
                roles[resolved[role_ref["Ref"]]] += statements(props["PolicyDocument"])
        elif r["Type"] == "AWS::IAM::ManagedPolicy":
            for role_ref in props.get("Roles", []):
                roles[resolved[role_ref["Ref"]]] += managed[lid]
    buckets = {lid: resolve(r["Properties"]["BucketName"], template)
               for lid, r in res.items() if r["Type"] == "AWS::S3::Bucket"}
    bucket_policies: dict[str, list[dict]] = {}
    for r in res.values():
        if r["Type"] == "AWS::S3::BucketPolicy":
            bucket = buckets[r["Properties"]["Bucket"]["Ref"]]
            bucket_policies.setdefault(bucket, []).extend(statements(r["Properties"]["PolicyDocument"]))
    return Account(roles, bucket_policies, unknown)


def s3_request(operation: str, bucket: str, key: str, tls: bool = True) -> Request:
    """The request an S3 client sends for an operation of the access matrix."""
    ctx = {"aws:SecureTransport": "true" if tls else "false"}
    obj = f"arn:aws:s3:::{bucket}/{key}"
    if operation == "read":
        return Request("s3:GetObject", obj, ctx)
    if operation == "list":
        return Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**ctx, "s3:prefix": key} if key else ctx)
    if operation == "create":
        return Request("s3:PutObject", obj, {**ctx, "s3:if-none-match": "*"})
    if operation == "overwrite":
        return Request("s3:PutObject", obj, ctx)
    if operation == "delete":
        return Request("s3:DeleteObject", obj, ctx)
    raise ValueError(operation)
