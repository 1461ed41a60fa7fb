"""Goal versions as HTTP entity tags (RFC 9110 section 8.8.3).

A goal's version is its ``updated_at``, which the database moves on every write. The ETag is
that instant in microseconds since the epoch, a strong validator: the same bytes for the same
version, whatever the encoding of the response.
"""

import datetime as dt

from django.utils.http import parse_etags

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_MAX_DIGITS = 20


def etag(updated_at: dt.datetime) -> str:
    return f'"{(updated_at - EPOCH) // _MICROSECOND}"'


def versions_matching(header: str) -> list[dt.datetime] | None:
    """The versions an ``If-Match`` header accepts: ``None`` for ``*`` (any), else a list.

    Weak tags never match (If-Match compares strongly) and a malformed header matches nothing,
    so both end in 412 rather than in a write the client did not mean.
    """
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    versions = []
    for tag in tags:
        digits = tag[1:-1] if len(tag) > 2 and tag[0] == tag[-1] == '"' else ""
        if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS:
            try:
                versions.append(EPOCH + int(digits) * _MICROSECOND)
            except OverflowError:
                continue
    return versions


def none_match(header: str, updated_at: dt.datetime) -> bool:
    """True when ``If-None-Match`` names the current version (weak comparison, as RFC 9110 says)."""
    tags = parse_etags(header)
    current = etag(updated_at)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in tags)
