"""A day as the API writes one (``target_date`` and its filters): ``YYYY-MM-DD`` exactly, and a
day of the calendar. ``strptime`` alone takes "2026-6-1", and says "wrong format" of
"2027-02-29"; here a client learns which of the two it got wrong."""

import datetime as dt
import re

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
WRONG_FORMAT = "Date has wrong format. Use YYYY-MM-DD."


def parse_day(text) -> dt.date:
    """The day ``text`` names; ``ValueError`` with the client's message otherwise."""
    if not isinstance(text, str) or not _ISO_DAY.fullmatch(text):
        raise ValueError(WRONG_FORMAT)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text} is not a day of the calendar.") from None
