"""The per-user goal limit set in a test as a deployment sets it: the service's connections start
their sessions with it (libpq's options, as delight.settings renders DATABASE_SESSION_SETTINGS)."""

import contextlib

from django.db import connection

from goals import limits


@contextlib.contextmanager
def service_limit(limit: int):
    """Connections opened inside the block, by any thread (the live server's too: they share
    these settings), start with ``limit``; a later ``-c`` of the same name wins. A connection
    opened before keeps its limit, as in a deployment: a live server's thread keeps its own while
    its client keeps the HTTP connection alive."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("options")
    options["options"] = " ".join(filter(None, [saved, f"-c {limits.SESSION_SETTING}={limit}"]))
    connection.close()
    try:
        yield
    finally:
        if saved is None:
            options.pop("options", None)
        else:
            options["options"] = saved
        connection.close()
