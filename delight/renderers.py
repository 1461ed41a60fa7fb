"""JSON responses rendered with orjson: the same JSON as DRF's renderer (compact, UTF-8; UUIDs,
dates and UTC timestamps with ``Z`` written as DRF's encoder writes them), faster."""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default  # lazy translations, Decimal, ...: DRF's own conversions


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        options = orjson.OPT_UTC_Z
        if self.get_indent(accepted_media_type, renderer_context or {}):
            options |= orjson.OPT_INDENT_2  # the browsable API asks for indented JSON
        try:
            return orjson.dumps(data, default=_fallback, option=options)
        except TypeError:
            # What orjson cannot write (an integer past 64 bits, e.g. ?page=10**30) the standard
            # library can.
            return super().render(data, accepted_media_type, renderer_context)
