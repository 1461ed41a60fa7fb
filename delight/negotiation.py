"""DRF's content negotiation, its answer remembered per ``Accept`` header.

DRF parses the ``Accept`` header and matches it against every renderer on every request (5 % of
a single-goal request: docs/PERFORMANCE.md), though clients send a handful of distinct headers
(``application/json``, a browser's, none). The answer depends only on the header, the format asked
for (``?format=`` or a suffix) and the view's renderer classes, so it is kept for those; a header
that fails (406) is never kept, and only the first 256 distinct headers of up to 256 characters
are (whatever clients send, the memory stays bounded).
"""

import threading

from rest_framework.negotiation import DefaultContentNegotiation

MAX_REMEMBERED = 256

_chosen: dict[tuple, tuple[int, str]] = {}
_lock = threading.Lock()


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        requested = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        accept = request.META.get("HTTP_ACCEPT")
        key = (tuple(map(type, renderers)), accept, requested)
        found = _chosen.get(key)
        if found is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            found = (renderers.index(renderer), media_type)
            if len(accept or "") <= MAX_REMEMBERED:
                with _lock:
                    if len(_chosen) < MAX_REMEMBERED:
                        _chosen[key] = found
        index, media_type = found
        return renderers[index], media_type
