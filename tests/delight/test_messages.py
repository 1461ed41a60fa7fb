"""The message storage (delight.middleware.MessageMiddleware) is made only for a request that uses
it: an API request never makes one, a page that adds a message stores it for the next page, which
shows it once (the admin's "was changed successfully" journey runs in tests/goals/test_admin.py
and in Chromium)."""

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from delight.middleware import MessageMiddleware


def chain(view):
    """The two middlewares around ``view``, in settings' order (sessions, then messages)."""
    return SessionMiddleware(MessageMiddleware(view))


def adding(text: str):
    """A view that adds the message ``text`` and shows nothing."""

    def view(request):
        messages.success(request, text)
        return HttpResponse()

    return view


def through(view, cookies: dict | None = None):
    request = RequestFactory().get("/admin/")
    request.COOKIES.update(cookies or {})
    return request, chain(view)(request)


@pytest.mark.django_db
def test_an_api_request_never_makes_a_storage(api, goal):
    response = api.get(f"/api/v1/goals/{goal.id}")
    assert response.status_code == 200
    assert response.wsgi_request._messages._wrapped is empty
    assert "messages" not in response.cookies


@pytest.mark.django_db
def test_a_message_added_is_stored_and_shown_once_on_the_next_page():
    request, response = through(adding("The goal “Run a marathon” was changed successfully."))
    assert isinstance(request._messages._wrapped, FallbackStorage)
    stored = response.cookies["messages"].value
    assert stored

    shown = []

    def show(request):
        shown.extend(str(message) for message in messages.get_messages(request))
        return HttpResponse()

    _, response = through(show, {"messages": stored})
    assert shown == ["The goal “Run a marathon” was changed successfully."]
    # Shown, so gone: the cookie is deleted (expired), not sent again.
    assert response.cookies["messages"].value == ""
    assert response.cookies["messages"]["max-age"] == 0


@pytest.mark.django_db
def test_a_page_that_does_not_read_its_messages_keeps_them_for_later():
    _, added = through(adding("Saved."))
    stored = added.cookies["messages"].value

    request, response = through(lambda request: HttpResponse(), {"messages": stored})
    assert request._messages._wrapped is empty
    assert "messages" not in response.cookies  # the browser keeps its cookie for the next page
