"""Request body parsing (kept apart from delight.api: DRF reads its parser setting while
``rest_framework.views`` is being imported)."""

import codecs
import json
import sys

from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.utils.mediatypes import _MediaType


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, minus its ways to a 500.

    - ``Content-Type: */*`` (or ``application/*``) names no type; DRF's matching takes a wildcard
      as a match for any parser: 415, as for any type that is not JSON;
    - JSON is UTF-8 (RFC 8259 section 8.1): any other declared charset is 415, where DRF would look
      the codec up and fail with ``LookupError`` on an unknown one;
    - deep nesting raises ``RecursionError`` in ``json.loads``, which DRF does not catch: 400;
    - ``NaN`` and ``Infinity`` are not JSON: 400 (DRF's ``STRICT_JSON`` does this too);
    - a number of more digits than Python converts (4,300) is 400 saying so, not Python's
      advice to call ``sys.set_int_max_str_digits()``.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        declared = _MediaType(media_type or self.media_type)
        if "*" in (declared.main_type, declared.sub_type):
            raise exceptions.UnsupportedMediaType(
                media_type, detail="Content-Type names no type (a wildcard): send application/json."
            )
        charset = declared.params.get("charset")
        if charset is not None and _codec_name(charset) != "utf-8":
            raise exceptions.UnsupportedMediaType(
                media_type, detail=f"Unsupported charset {charset!r}: JSON bodies must be UTF-8."
            )
        try:
            text = stream.read().decode("utf-8")
            return json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int)
        except UnicodeDecodeError:
            raise exceptions.ParseError("JSON parse error: the body is not valid UTF-8.") from None
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error: the body is nested too deeply."
            ) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error: {exc}") from None


def _codec_name(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _bounded_int(digits: str) -> int:
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        raise ValueError(f"a number has more than {limit} digits")
    return int(digits)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
