"""Addresses that arrive from outside (a Clerk webhook's ``image_url``), and whether a page may
make a link or an image of one."""

from urllib.parse import urlsplit

WEB_SCHEMES = ("http://", "https://")


def web_url(value: str) -> str:
    """``value`` when it is an absolute ``http(s)`` address with a host, else ``""``.

    A ``javascript:`` address as a link runs its code in the page's origin when clicked (the
    admin's, with a staff session); ``data:`` and others have no business in a profile. The
    value must start with the scheme itself: browsers drop leading spaces and control
    characters and tabs anywhere (``" java\\tscript:..."``), so nothing before it is trusted.
    """
    if not isinstance(value, str) or not value[:8].lower().startswith(WEB_SCHEMES):
        return ""
    try:
        host = urlsplit(value).netloc
    except ValueError:  # an unbalanced "[" in the host
        return ""
    return value if host else ""
