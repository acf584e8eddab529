"""The schedules file: one definition of when each job runs (read by infra/cloud and the Dagster definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from lake.errors import LakeError

SCHEDULES = Path(__file__).resolve().parent / "schedules.yml"


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str  # five fields: minute hour day-of-month month day-of-week (Sunday = 0)
    timezone: str
    runs: str  # the job: transforms, catalog, ...
    description: str = ""


def load_schedules(path: Path = SCHEDULES) -> list[Schedule]:
    """Every schedule in the file; a malformed entry names itself and what is missing."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        default_tz = spec.get("timezone", "UTC")
        out = [
            Schedule(name=s["name"], cron=s["cron"], timezone=s.get("timezone", default_tz), runs=s["runs"],
                     description=" ".join(str(s.get("description", "")).split()))
            for s in spec["schedules"]
        ]
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError) as e:
        raise LakeError(f"schedules file {path} cannot be read: {e!r}", "restore it from git") from e
    for s in out:
        if len(s.cron.split()) != 5:
            raise LakeError(f"schedule {s.name!r} in {path}: cron {s.cron!r} needs five fields",
                            "write minute hour day-of-month month day-of-week, e.g. '0 3 * * *'")
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise LakeError(f"schedule names repeat in {path}: {names}", "give every schedule its own name")
    return out


def eventbridge_cron(cron: str) -> str:
    """A five-field cron as an EventBridge Scheduler expression: `cron(min hour dom month dow year)`.

    EventBridge counts weekdays 1-7 from Sunday and needs `?` in one of day-of-month and day-of-week.
    """
    minute, hour, dom, month, dow = cron.split()
    if dow == "*":
        dow = "?"
    else:
        dow = _shift_weekdays(dow)
        if dom == "*":
            dom = "?"
        elif dom != "?":
            raise LakeError(f"cron {cron!r} sets both day-of-month and day-of-week",
                            "EventBridge allows only one of them: set the other to *")
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def _shift_weekdays(field: str) -> str:
    """Numeric weekdays from cron (0-6 or 7, Sunday 0 or 7) to EventBridge (1-7, Sunday 1); names pass."""
    out = []
    for part in field.split(","):
        step = ""
        if "/" in part:
            part, step = part.split("/", 1)
            step = f"/{step}"
        ends = part.split("-")
        if all(e.isdigit() for e in ends):
            ends = [str(int(e) % 7 + 1) for e in ends]
            if len(ends) == 2 and int(ends[0]) > int(ends[1]):
                raise LakeError(f"weekday range {part!r} wraps past Saturday in EventBridge numbering",
                                "write it as a list, e.g. 1-6,0")
        out.append("-".join(ends) + step)
    return ",".join(out)
