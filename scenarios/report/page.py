"""The one HTML page behind both views: the static report and the live dashboard.

The page is a shell: inline CSS, the inline script (scenarios/static/report.js) that draws
everything, and either the final journal embedded as JSON (report.html) or the address of the
event stream that brings growing snapshots (the live dashboard). A Content-Security-Policy
allows only that script and that style (by hash), so the report cannot fetch anything, even
if a title smuggled in markup.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def asset(name: str) -> str:
    return (files("scenarios") / "static" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can close or confuse it."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _data_element(element_id: str, value: Any) -> str:
    return f'<script type="application/json" id="{element_id}">{script_json(value)}</script>'


def content_security_policy(*, live: bool) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sha256(asset('report.js'))}",
            f"style-src {_sha256(asset('report.css'))}",
            "img-src data:",
            # The live page reads its event stream from the server that served it.
            "connect-src 'self'" if live else "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def render_page(payload: dict[str, Any] | None, *, events: str | None = None) -> str:
    """The static report when `payload` is given; the live page when `events` (a URL path) is."""
    live = events is not None
    if payload is not None:
        exp = payload["journal"].get("experiment") or {}
        title = f"{payload['label']} · {exp.get('title') or 'game day'}"
        data = _data_element("faultline-data", payload)
        fallback = html.escape(payload["headline"])
        footer = '<a href="journal.json">journal.json</a> · <a href="junit.xml">junit.xml</a>'
    else:
        title = "faultline game day (live)"
        data = ""
        fallback = "The live dashboard needs JavaScript."
        footer = '<a href="/snapshot.json">latest snapshot</a>'
    config = _data_element("faultline-config", {"events": events})
    csp = html.escape(content_security_policy(live=live), quote=False).replace('"', "&quot;")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="faultline">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<style>{asset("report.css")}</style>
</head>
<body>
<main>
<div id="app" data-renders="0"><noscript><p>{fallback}</p>
<p>The charts and tables of this report are drawn by its inline script.</p></noscript></div>
<footer>faultline game day · {footer}</footer>
</main>
{data}
{config}
<script>{asset("report.js")}</script>
</body>
</html>
"""
