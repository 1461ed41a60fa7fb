"""Reading the process environment: the only place settings values come from.

Every helper fails with ``ImproperlyConfigured`` and a one-line reason, so a typo in a deployment
stops the process at start-up instead of surfacing as odd behaviour later.
"""

import os
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value with surrounding whitespace removed; unset or blank is ``default``."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    """``1``/``0`` (or true/false, yes/no, on/off); unset or blank is ``default``."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (got {raw!r}).")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {raw!r}).") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value}).")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    raw = env_str(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds (``2.5`` allowed); ``0`` means off. Unset or blank is ``default``."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds (got {raw!r}).") from None
    if not 0 <= value < 86_400:  # NaN fails this too
        raise ImproperlyConfigured(f"{name} must be between 0 and 86400 seconds (got {raw!r}).")
    return value


def database_from_url(url: str) -> dict:
    """Django's ``DATABASES`` entry for a ``postgres://`` or ``postgresql://`` URL.

    Query parameters become libpq connection options (``sslmode``, ``connect_timeout``,
    ``target_session_attrs``, ...); ``host`` in the query names a Unix socket directory, as libpq
    allows. Several hosts are libpq's multi-host form
    (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-MULTIPLE-HOSTS):
    ``postgresql://user@h1:5432,[::1]:5433,h3/db`` becomes ``HOST`` ``h1,::1,h3`` and ``PORT``
    ``5432,5433,`` (an empty item is libpq's default port), which Django hands to psycopg as they
    are; psycopg tries the hosts in turn, each within ``connect_timeout``.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": a bracket left open
        raise ImproperlyConfigured(f"DATABASE_URL cannot be read: {exc}.") from None
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgresql:// (got scheme {parts.scheme!r})."
        )
    options = dict(parse_qsl(parts.query))
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts, ports = _hosts_and_ports(hostlist)
    host = options.pop("host", None) or ",".join(hosts)
    port = ",".join(ports) if any(ports) else options.pop("port", "")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database (postgresql://host/NAME).")
    return {
        "ENGINE": "delight.postgresql",  # Django's, with bounded waits (delight/postgresql)
        "NAME": name,
        "USER": unquote(user),
        "PASSWORD": unquote(password),
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
    }


def _hosts_and_ports(hostlist: str) -> tuple[list[str], list[str]]:
    """``h1:5432,[::1],h3`` as ``["h1", "::1", "h3"]`` and ``["5432", "", ""]``."""
    if not hostlist:
        return [], []
    hosts, ports = [], []
    for item in hostlist.split(","):
        if item.startswith("["):  # an IPv6 address, RFC 3986's way
            address, bracket, rest = item[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ImproperlyConfigured(f"DATABASE_URL has an invalid host: {item!r}.")
            host, port = address, rest[1:]
        elif item.count(":") > 1:
            raise ImproperlyConfigured(
                f"DATABASE_URL: write an IPv6 address in brackets ([{item}]), as libpq does."
            )
        else:
            host, _, port = item.partition(":")
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ImproperlyConfigured("DATABASE_URL has an invalid port.")
        hosts.append(unquote(host))
        ports.append(port)
    return hosts, ports
