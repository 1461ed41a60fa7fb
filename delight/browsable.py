"""The browsable API: DRF's ``BrowsableAPIRenderer``, made to offer what a person can send as it
stands (issue 15).

DRF fills the raw-data forms with ``serializer.data``: the POST form with each field's empty value
(``null`` for a choice, which the field refuses) and the PATCH form with the whole representation
(``id``, ``user_id`` and the timestamps included, each refused as read-only); after a failed write
its ``data`` is the error body, which has no serializer, so the PATCH form falls back to the blank
create template. Here (``rest_framework/renderers.py``: ``get_raw_data_form``, ``get_context``):

- POST offers the writable fields, each with a value its field accepts (``placeholder``), so only
  what is required and has no sensible value (a title) needs filling in;
- PATCH offers the object's current values of the writable fields only;
- after a failed write, the form holds what was sent, to correct (the errors are shown above it);
- a 401 page explains how to authenticate instead of showing the view's description;
- a view may say what its DELETE does (``browsable_delete``) for the button and its dialog.

Descriptions come from the view (``get_view_description``); ``text_to_html`` renders the small
Markdown they are written in.
"""

import datetime as dt
import re
from collections.abc import Mapping

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page
from django.db import DatabaseError
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from rest_framework import exceptions, renderers, serializers
from rest_framework.fields import empty
from rest_framework.request import override_method

# What DRF's template says about DELETE; a view's ``browsable_delete`` replaces any of it.
DELETE_WORDING = {
    "button": "DELETE",
    "tooltip": "Make a DELETE request on this resource",
    "question": "Are you sure you want to delete this?",
    "explanation": "",
    "confirm": "Delete",
}

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_LOCAL_LINK = re.compile(r"\[([^\]]+)\]\((/[^)\s\"]*)\)")  # [text](/path): this site's pages only


def text_to_html(text: str) -> SafeString:
    """The Markdown that view descriptions use: paragraphs, ``code``, **bold** and links to this
    site's pages; the rest is text (escaped). DRF renders Markdown only with the ``markdown`` package installed, and shows
    anything else, reStructuredText included, as it is."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    html = []
    for paragraph in paragraphs:
        inline = _CODE.sub(r"<code>\1</code>", escape(paragraph))
        inline = _LOCAL_LINK.sub(r'<a href="\2">\1</a>', _BOLD.sub(r"<strong>\1</strong>", inline))
        html.append(f"<p>{' '.join(inline.split())}</p>")
    return mark_safe("\n".join(html))  # noqa: S308 - every piece of text was escaped above


def writable_fields(serializer) -> dict:
    return {
        name: field
        for name, field in serializer.fields.items()
        if not field.read_only and not isinstance(field, serializers.HiddenField)
    }


def placeholder(field: serializers.Field):
    """A value ``field`` accepts, for a form to offer: its default, ``null`` where an optional
    field takes it, the first choice, or a neutral value of its type. A required text field gets
    ``""``, which it refuses until the person fills it in: there is no sensible title to offer."""
    if field.default is not empty:
        default = field.get_default()
        return None if default is None else field.to_representation(default)
    if field.allow_null and not field.required:
        return None
    if isinstance(field, serializers.ChoiceField):
        return next(iter(field.choices))
    if isinstance(field, serializers.BooleanField):
        return False
    if isinstance(field, serializers.IntegerField | serializers.FloatField):
        return field.min_value if field.min_value is not None else 0
    if isinstance(field, serializers.DateTimeField):
        return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if isinstance(field, serializers.DateField):
        return dt.date.today().isoformat()
    return field.initial if field.initial is not None else ""


def _json(body) -> str:
    return renderers.JSONRenderer().render(body, "application/json; indent=4").decode()


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    template = "delight/browsable_api.html"

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        view = renderer_context["view"]
        context["delete_wording"] = {**DELETE_WORDING, **getattr(view, "browsable_delete", {})}
        context["authentication_help"] = renderer_context["response"].status_code == 401
        return context

    def get_filter_form(self, data, view, request):
        # DRF shows the filters only where it recognises a list in ``data`` (a paginator's
        # ``results``); a viewset's list route that answered is one, whatever its page looks like.
        if (
            getattr(view, "detail", None) is False
            and self.renderer_context["response"].status_code < 300
        ):
            data = []
        return super().get_filter_form(data, view, request)

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        if form is None or not hasattr(view, "get_serializer"):
            return form
        response = self.renderer_context["response"]
        sent = self._sent_body(request) if request.method == method else None
        if sent is None and response.status_code >= 500:
            return None  # nothing to offer while the service is failing (and no query to make)
        with override_method(view, request, method):
            if sent is not None:
                body = sent
            elif method == "POST":
                fields = writable_fields(view.get_serializer())
                body = {name: placeholder(field) for name, field in fields.items()}
            else:
                instance = self._instance(data, view)
                if instance is None:
                    return None  # no object, nothing to edit (a 404 page)
                serializer = view.get_serializer(instance)
                writable = writable_fields(serializer)
                body = {name: value for name, value in serializer.data.items() if name in writable}
        form.fields["_content"].initial = _json(body)
        return form

    def _sent_body(self, request) -> dict | None:
        """What a write that failed sent, when it was a JSON object, to offer again."""
        if self.renderer_context["response"].status_code < 400:
            return None
        try:
            sent = request.data
        except exceptions.APIException:
            return None
        return dict(sent) if isinstance(sent, Mapping) and sent else None

    @staticmethod
    def _instance(data, view):
        """The object a detail page shows: the one serialized in ``data``, else (an error answer,
        whose ``data`` is the error body) the view's own lookup."""
        serializer = getattr(data, "serializer", None)
        instance = getattr(serializer, "instance", None)
        if instance is not None and not isinstance(instance, Page):
            return instance
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if lookup not in getattr(view, "kwargs", {}):
            return None
        try:
            return view.get_object()
        except (exceptions.APIException, Http404, ObjectDoesNotExist, DatabaseError):
            return None
