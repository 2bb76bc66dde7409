"""Server URLs as the harness rewrites them.

PostgreSQL URLs go through SQLAlchemy's `make_url`: the services (SQLAlchemy) take the
`postgresql+psycopg://` spelling, the harness's own psycopg connections the plain
`postgresql://` one, and credentials, query and quoting survive a change of address or
database. RabbitMQ URLs keep their vhost as written (`make_url` would unquote `%2F`), so only
their address is swapped.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from harness.errors import UserError

SERVICE_DRIVER = "postgresql+psycopg"
LIBPQ_DRIVER = "postgresql"


def _postgres(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise UserError(f"invalid PostgreSQL URL {url!r}") from None


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def libpq_url(url: str, database: str | None = None) -> str:
    """`url` in psycopg's spelling, optionally naming another database."""
    parsed = _postgres(url).set(drivername=LIBPQ_DRIVER)
    return _render(parsed if database is None else parsed.set(database=database))


def service_url(
    url: str, database: str, *, host: str | None = None, port: int | None = None
) -> str:
    """What a service's `SVC_DATABASE_URL` holds: `url`'s credentials, the SQLAlchemy driver,
    `database`, and optionally another address (a proxy's)."""
    parsed = _postgres(url).set(drivername=SERVICE_DRIVER, database=database)
    if host is not None:
        parsed = parsed.set(host=host, port=port)
    return _render(parsed)


def address(url: str, default_port: int) -> tuple[str, int]:
    """Host and port of any server URL (PostgreSQL, RabbitMQ)."""
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError:
        raise UserError(f"invalid port in URL {url}") from None
    return parts.hostname or "127.0.0.1", port


def amqp_through(url: str, host: str, port: int) -> str:
    """The RabbitMQ URL with the same credentials and vhost at another address (a proxy's)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
