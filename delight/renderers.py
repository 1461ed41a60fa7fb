"""JSON responses rendered with orjson: the same JSON as DRF's renderer (compact, UTF-8; UUIDs,
dates and UTC timestamps with ``Z`` written as DRF's encoder writes them), faster; and JSON that
PostgreSQL already wrote (``RawJSON``, a list page's goals) put in as it is."""

import json

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder


class RawJSON:
    """A JSON value already written (by PostgreSQL: goals.selectors), for a response's data."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, RawJSON) and other.text == self.text

    def __hash__(self):
        return hash(self.text)


class _Encoder(JSONEncoder):
    """DRF's encoder (lazy translations, Decimal, ...), which also reads ``RawJSON``."""

    def default(self, obj):
        if isinstance(obj, RawJSON):
            return json.loads(obj.text)
        return super().default(obj)


_drf_default = _Encoder().default


def _as_is(obj):
    return orjson.Fragment(obj.text) if isinstance(obj, RawJSON) else _drf_default(obj)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = _Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        options, default = orjson.OPT_UTC_Z, _as_is
        if self.get_indent(accepted_media_type, renderer_context or {}):
            # The browsable API asks for indented JSON: what PostgreSQL wrote is read, then
            # indented with the rest.
            options, default = options | orjson.OPT_INDENT_2, _drf_default
        try:
            return orjson.dumps(data, default=default, option=options)
        except TypeError:
            # What orjson cannot write (an integer past 64 bits, e.g. ?page=10**30) the standard
            # library can.
            return super().render(data, accepted_media_type, renderer_context)
