"""A small client for Superset's REST API (`/api/v1/...`): login, CSRF, JSON in and out, errors that say what failed.

Provisioning, invitations, annotations and the tests all talk to Superset through this client, as a user would
through the API, so the permission checks they meet are Superset's own.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from lake.errors import LakeError


class ApiError(LakeError):
    """A request Superset refused or failed; `status` is the HTTP status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"Superset {method} {path} answered {status}: {body[:500]}",
                         "see the dashboards log (`lake dashboards status` says where)")


class SupersetClient:
    """A session logged in as one user: a JWT for the API plus the session cookie and CSRF token it needs."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.http = requests.Session()
        try:
            r = self.http.post(
                f"{self.url}/api/v1/security/login",
                json={"username": username, "password": password, "provider": "db", "refresh": False},
                timeout=timeout,
            )
        except requests.RequestException as e:
            raise LakeError(f"Superset at {self.url} is not reachable: {e}", "start it: `lake dashboards up`") from e
        if r.status_code != 200:
            raise ApiError("POST", "/api/v1/security/login", r.status_code, r.text)
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.http.headers["Referer"] = self.url  # Superset's CSRF check wants a same-origin referer
        self.http.headers["X-CSRFToken"] = self.get("/api/v1/security/csrf_token/")["result"]

    def request(self, method: str, path: str, payload: Any = None, params: dict | None = None,
                ok: tuple[int, ...] = (200, 201)) -> Any:
        r = self.http.request(method, f"{self.url}{path}", json=payload, params=params, timeout=self.timeout)
        if r.status_code not in ok:
            raise ApiError(method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def raw(self, method: str, path: str, payload: Any = None, params: dict | None = None) -> requests.Response:
        """The response as is (the permission tests look at refusals)."""
        return self.http.request(method, f"{self.url}{path}", json=payload, params=params, timeout=self.timeout)

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, payload: Any) -> Any:
        return self.request("POST", path, payload)

    def put(self, path: str, payload: Any) -> Any:
        return self.request("PUT", path, payload)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def find(self, resource: str, column: str, value: Any, extra: list[dict] | None = None) -> list[dict]:
        """Objects of `resource` (`dashboard`, `chart`, ...) whose `column` equals `value` (rison `q` filter)."""
        filters = [{"col": column, "opr": "eq", "value": value}, *(extra or [])]
        q = {"filters": filters, "page_size": 100}
        return self.get(f"/api/v1/{resource}/", params={"q": _rison(q)})["result"]

    def list_all(self, resource: str, columns: list[str] | None = None) -> list[dict]:
        """Every object of `resource` this user may see (all pages)."""
        out: list[dict] = []
        page = 0
        while True:
            q: dict[str, Any] = {"page": page, "page_size": 100}
            if columns:
                q["columns"] = columns
            res = self.get(f"/api/v1/{resource}/", params={"q": _rison(q)})
            out += res["result"]
            if len(out) >= res["count"] or not res["result"]:
                return out
            page += 1


def _rison(value: Any) -> str:
    """Encode as rison (the query language of Superset's list endpoints): enough for dicts, lists and scalars."""
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if value is None:
        return "!n"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        if value and all(c.isalnum() or c in "-_./~" for c in value) and not value[0].isdigit() and value[0] != "-":
            return value
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, list | tuple):
        return "!(" + ",".join(_rison(v) for v in value) + ")"
    if isinstance(value, dict):
        return "(" + ",".join(f"{_rison(str(k))}:{_rison(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"cannot encode {type(value).__name__} as rison")
