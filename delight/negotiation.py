from rest_framework.negotiation import DefaultContentNegotiation

_JSON_ACCEPTS = {"", "*/*", "application/json"}


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answering the common cases without parsing the Accept header.

    API clients send no Accept, ``*/*`` or ``application/json``: all of them get the first
    renderer (JSON), exactly as DRF would decide. Anything else (a browser asking for HTML, a
    ``?format=``) goes through DRF's full negotiation.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "").strip()
        if (
            accept in _JSON_ACCEPTS
            and format_suffix is None
            and not request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        ):
            renderer = renderers[0]
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
