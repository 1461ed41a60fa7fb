"""A whole transaction run once more where the server refused it (docs/RELIABILITY.md).

A statement that runs alone is run again by the cursor (``delight.postgresql.base``); one inside
``atomic()`` is not, because what came before it in the transaction is gone. But when the whole
transaction is one function, and the server refused it (a read-only session, a stale prepared
plan, a serialization failure or a deadlock: rolled back, nothing written), that function may
run once more, on a new connection where the old one was no good. That is what a session opened
while the database was read-only needs once the database accepts writes again: it stays
read-only for its whole life, and its first write is refused.
"""

import functools

from django.db import DatabaseError, connection


def transaction_once_more(func):
    """Run ``func`` once more when the server refused the transaction it is.

    For a function that opens the outermost ``atomic()`` itself and does nothing outside the
    database a second run would repeat. Called inside a caller's transaction, it runs once: the
    caller's transaction is gone with the error, so only the caller could start it again.
    """

    @functools.wraps(func)
    def run(*args, **kwargs):
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        except DatabaseError as exc:
            if not connection.recover_transaction(exc):
                raise
        return func(*args, **kwargs)

    return run
