"""Session settings sent when a connection starts: libpq's ``options`` (``-c name=value``).

PostgreSQL applies them as the session's defaults before the first statement, at no cost per
query (``RESET`` returns to them). ``delight.settings`` names them in one dict
(``DATABASE_SESSION_SETTINGS``); this module writes that dict as libpq's ``options`` string
(https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-OPTIONS).
"""

import re

# -c name=value, -cname=value or --name=value (the forms PostgreSQL's command line accepts).
_GIVEN = re.compile(r"(?:^|\s)(?:-c\s*|--)([A-Za-z0-9_.-]+)=")


def libpq_options(session: dict[str, str], given: str | None = None) -> str:
    """``given`` (an ``options`` value from DATABASE_URL, kept as it is) followed by a
    ``-c name=value`` for each setting of ``session`` that ``given`` does not already set."""
    named = {name.replace("-", "_").lower() for name in _GIVEN.findall(given or "")}
    ours = [
        f"-c {name}={_escaped(value)}"
        for name, value in session.items()
        if name.lower() not in named
    ]
    return " ".join(part for part in [(given or "").strip(), *ours] if part)


def _escaped(value: str) -> str:
    """libpq splits ``options`` at spaces; a backslash keeps one (and itself) in a value."""
    return str(value).replace("\\", "\\\\").replace(" ", "\\ ")


def milliseconds(seconds: float) -> str:
    """A duration for a PostgreSQL setting (``0``: off)."""
    return f"{round(seconds * 1000)}ms"
