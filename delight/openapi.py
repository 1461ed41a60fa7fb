"""drf-spectacular hooks."""


def without_trailing_slash(endpoints):
    """Document ``/api/v1/goals/{id}``, not ``.../{id}/``: the routes take both (``/?``), and the
    contract writes them without the slash."""
    return [
        (path.rstrip("/") if path != "/" else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]
