"""The one client of a Toxiproxy server: the real Toxiproxy 2.x or faultline's embedded one.

It speaks only the documented HTTP API (nothing of the embedded server is imported), so the
stack, the fault API and `faultline status` work the same against both. The embedded server's
extensions (HTTP-level toxics) are detected by asking it, never assumed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from harness.errors import UserError

# Toxic types only faultline's embedded server knows (its `GET /faultline` lists them too).
EXTENSION_TOXIC_TYPES = frozenset({"http_error", "http_latency"})
# A route only the embedded server has; a real Toxiproxy answers it 404.
IDENTITY_PATH = "/faultline"


class ToxiproxyError(UserError):
    """The server refused a call or did not answer; `status` and `message` say what it
    answered (`status` 0: no answer at all)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(f"{message} (HTTP {status})" if status else message)
        self.message = message
        self.status = status


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when a Toxiproxy API answers at `url`."""
    try:
        return httpx.get(f"{url.rstrip('/')}/version", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class ToxiproxyClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._embedded: bool | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"Toxiproxy at {self.url} is unreachable: {exc}", 0) from exc
        if resp.status_code >= 400:
            try:
                message = str(resp.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = resp.text.strip() or resp.reason_phrase
            raise ToxiproxyError(message, resp.status_code)
        return resp

    @staticmethod
    def _path(name: str) -> str:
        return quote(name, safe="")

    # ---- server ------------------------------------------------------------------------
    def version(self) -> str:
        return str(self._call("GET", "/version").json()["version"])

    def is_embedded(self) -> bool:
        """True for faultline's server: it answers a route a real Toxiproxy does not have."""
        if self._embedded is None:
            try:
                body = self._call("GET", IDENTITY_PATH).json()
            except ToxiproxyError as exc:
                if exc.status != 404:
                    raise
                body = None
            except ValueError:
                body = None
            self._embedded = isinstance(body, dict) and body.get("server") == "faultline"
        return self._embedded

    def reset(self) -> None:
        """Remove every toxic and re-enable every proxy."""
        self._call("POST", "/reset")

    # ---- proxies -----------------------------------------------------------------------
    def proxies(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("GET", "/proxies").json())

    def proxy(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/proxies/{self._path(name)}").json())

    def create_proxy(
        self, name: str, listen: str, upstream: str, enabled: bool = True
    ) -> dict[str, Any]:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return dict(self._call("POST", "/proxies", body).json())

    def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create (or replace) proxies; returns them with the addresses really bound."""
        return list(self._call("POST", "/populate", proxies).json()["proxies"] or [])

    def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/proxies/{self._path(name)}", fields).json())

    def delete_proxy(self, name: str, *, missing_ok: bool = False) -> None:
        try:
            self._call("DELETE", f"/proxies/{self._path(name)}")
        except ToxiproxyError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    # ---- toxics ------------------------------------------------------------------------
    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/proxies/{self._path(proxy)}/toxics").json())

    def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: dict[str, Any] | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> dict[str, Any]:
        if type in EXTENSION_TOXIC_TYPES:
            stream = "upstream"
            if not self.is_embedded():
                raise ToxiproxyError(
                    f"toxic type {type!r} is a faultline extension and needs faultline's "
                    f"embedded Toxiproxy server; {self.url} is a real Toxiproxy "
                    "(unset TOXIPROXY_URL to use the embedded one)",
                    0,
                )
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        if name is not None:
            body["name"] = name
        return dict(self._call("POST", f"/proxies/{self._path(proxy)}/toxics", body).json())

    def update_toxic(
        self,
        proxy: str,
        name: str,
        attributes: dict[str, Any] | None = None,
        toxicity: float | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": attributes or {}}
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = f"/proxies/{self._path(proxy)}/toxics/{self._path(name)}"
        return dict(self._call("PATCH", path, body).json())

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{self._path(proxy)}/toxics/{self._path(name)}")
