"""The staff admin: usable, searchable, and a constant number of queries however many goals."""

import calendar
import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from goals.models import Goal, GoalStatus
from tests.factories import GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/goals/goal/"


def test_goal_change_list_renders_with_owner_and_fields(admin_client):
    goal = GoalFactory(title="Learn to swim", user=UserFactory(clerk_user_id="user_swimmer"))
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Learn to swim" in page
    assert "user_swimmer" in page
    assert str(goal.target_date or "-") in page or "-" in page


def test_change_list_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    GoalFactory.create_batch(5)
    with django_assert_max_num_queries(100) as few:
        admin_client.get(CHANGELIST)
    GoalFactory.create_batch(95)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == 100


@pytest.mark.parametrize(
    ("query", "expected"),
    [("swim", "Learn to swim"), ("user_swimmer", "Learn to swim"), ("pool", "Learn to swim")],
)
def test_search_by_title_description_and_owner(admin_client, query, expected):
    GoalFactory(
        title="Learn to swim",
        description="in the pool",
        user=UserFactory(clerk_user_id="user_swimmer"),
    )
    GoalFactory(title="Write a novel")
    results = admin_client.get(CHANGELIST, {"q": query}).context["cl"].result_list
    assert [goal.title for goal in results] == [expected]


@pytest.mark.parametrize("query", ["cafe zurich", "CAFÉ", "Zür", "ouvrir"])
def test_search_is_case_and_accent_insensitive_as_the_api_s(admin_client, query):
    GoalFactory(title="Ouvrir un Café à Zürich", description="Œuvre de ma vie")
    GoalFactory(title="Cafeteria")  # would match "cafe", not "zurich"
    results = admin_client.get(CHANGELIST, {"q": query}).context["cl"].result_list
    assert "Ouvrir un Café à Zürich" in [goal.title for goal in results]
    if query == "cafe zurich":
        assert [goal.title for goal in results] == ["Ouvrir un Café à Zürich"]


@pytest.mark.parametrize("query", ["100%", "a_b", "back\\slash"])
def test_search_takes_like_wildcards_literally(admin_client, query):
    GoalFactory(title="Give 100% on a_b with a back\\slash")
    GoalFactory(title="Give 1000 on axb")
    results = admin_client.get(CHANGELIST, {"q": query}).context["cl"].result_list
    assert [goal.title for goal in results] == ["Give 100% on a_b with a back\\slash"]


def test_search_by_owner_email(admin_client):
    GoalFactory(title="Mine", user=UserFactory(clerk_user_id="user_e", email="e@example.com"))
    GoalFactory(title="Other")
    results = admin_client.get(CHANGELIST, {"q": "e@example.com"}).context["cl"].result_list
    assert [goal.title for goal in results] == ["Mine"]


def test_filters(admin_client):
    GoalFactory(
        title="Paused one", status=GoalStatus.PAUSED, goal_type="abstract", value_category="health"
    )
    GoalFactory(title="Active one")
    for params in (
        {"status__exact": "paused"},
        {"goal_type__exact": "abstract"},
        {"value_category__exact": "health"},
    ):
        results = admin_client.get(CHANGELIST, params).context["cl"].result_list
        assert [goal.title for goal in results] == ["Paused one"], params


def test_change_form_renders_with_read_only_timestamps(admin_client):
    goal = GoalFactory()
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/change/").content.decode()
    assert 'name="title"' in page
    assert 'name="created_at"' not in page
    assert 'name="updated_at"' not in page
    assert str(goal.pk) in page


def change_form_data(goal, **overrides):
    data = {
        "user": str(goal.user_id),
        "title": goal.title,
        "description": goal.description or "",
        "goal_type": goal.goal_type,
        "value_category": goal.value_category,
        "target_date": "",
        "status": goal.status,
    }
    data.update(overrides)
    return data


def test_edit_through_the_admin_saves_and_moves_updated_at(admin_client):
    goal = GoalFactory()
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/", change_form_data(goal, title="Edited")
    )
    assert response.status_code == 302
    edited = Goal.objects.get(pk=goal.pk)
    assert edited.title == "Edited"
    assert edited.updated_at > goal.updated_at


@pytest.mark.parametrize("description", [None, "", "  Two lines,\nspaces kept  "])
def test_a_save_keeps_an_untouched_description_as_it_was(admin_client, description):
    """null stays null, "" stays "", and a text comes back from the browser's text box with
    CRLF line ends: still the same text."""
    goal = GoalFactory(description=description)
    sent = (description or "").replace("\n", "\r\n")
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/",
        change_form_data(goal, title="Edited", description=sent),
    )
    assert response.status_code == 302
    edited = Goal.objects.get(pk=goal.pk)
    assert (edited.title, edited.description) == ("Edited", description)


@pytest.mark.parametrize(("sent", "stored"), [("", None), ("New\r\ntext ", "New\ntext ")])
def test_a_changed_description_is_saved_and_an_emptied_one_is_null(admin_client, sent, stored):
    goal = GoalFactory(description="Before")
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/", change_form_data(goal, description=sent)
    )
    assert response.status_code == 302
    assert Goal.objects.get(pk=goal.pk).description == stored


def test_the_owner_of_a_goal_cannot_be_changed(admin_client):
    goal = GoalFactory()
    someone_else = UserFactory()
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/change/").content.decode()
    assert 'name="user"' not in page
    assert goal.user.clerk_user_id in page
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/",
        change_form_data(goal, user=str(someone_else.pk), title="Still mine"),
    )
    assert response.status_code == 302
    saved = Goal.objects.get(pk=goal.pk)
    assert (saved.user_id, saved.title) == (goal.user_id, "Still mine")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "   "),
        ("title", "t" * 201),
        ("description", "d" * 2001),
        ("title", "nul\x00"),
        ("status", "gone"),
    ],
)
def test_bad_admin_input_is_a_form_error_not_a_500(admin_client, field, value):
    goal = GoalFactory()
    response = admin_client.post(
        f"{CHANGELIST}{goal.pk}/change/", change_form_data(goal, **{field: value})
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Goal.objects.get(pk=goal.pk).title == goal.title


def test_add_through_the_admin(admin_client):
    owner = UserFactory()
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "user": str(owner.pk),
            "title": "Added by staff",
            "goal_type": "concrete",
            "value_category": "craft",
            "status": "active",
        },
    )
    assert response.status_code == 302
    added = Goal.objects.get(title="Added by staff")
    assert (added.user, added.description) == (owner, None)


def test_archive_and_restore_actions(admin_client):
    goals = GoalFactory.create_batch(2)
    pks = [str(goal.pk) for goal in goals]
    admin_client.post(CHANGELIST, {"action": "archive", "_selected_action": pks})
    assert set(Goal.objects.values_list("status", flat=True)) == {"archived"}
    admin_client.post(CHANGELIST, {"action": "restore", "_selected_action": pks})
    assert set(Goal.objects.values_list("status", flat=True)) == {"active"}


def test_user_admin_shows_clerk_id_and_goal_count_in_one_query(
    admin_client, django_assert_max_num_queries
):
    user = UserFactory(clerk_user_id="user_counted")
    GoalFactory.create_batch(3, user=user)
    with django_assert_max_num_queries(100) as few:
        admin_client.get("/admin/accounts/user/")
    for _ in range(20):
        GoalFactory(user=UserFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get("/admin/accounts/user/")
    page = response.content.decode()
    assert "user_counted" in page
    row = next(
        obj for obj in response.context["cl"].result_list if obj.clerk_user_id == "user_counted"
    )
    assert row.goal_total == 3


def test_user_change_form_renders(admin_client):
    user = UserFactory(clerk_user_id="user_form")
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert 'name="clerk_user_id"' in page


# --- Issue 15: archiving and erasing, columns, forward-looking deadlines --------------------


@pytest.fixture
def staff_client(client, db):
    """A staff member (not a superuser) holding every goal permission, delete included."""
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("staffer", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_goal"))
    client.force_login(staff)
    return client


def test_change_list_columns(admin_client):
    page = admin_client.get(CHANGELIST)
    headers = [str(column["text"]).lower() for column in page.context["result_headers"]]
    assert headers[1:] == [
        "title",
        "owner",
        "type",
        "category",
        "status",
        "target date",
        "updated",
    ]


def test_long_titles_are_shortened_with_the_whole_title_on_hover(admin_client):
    title = "Learn to play the cello well enough to join a community orchestra by next year"
    GoalFactory(title=title, user=UserFactory(clerk_user_id="user_cello", email="c@example.com"))
    page = admin_client.get(CHANGELIST).content.decode()
    assert f'<span title="{title}">Learn to play the cello well …</span>' in page
    assert '<span title="c@example.com user_cello">c@example.com</span>' in page


def test_updated_shows_seconds_and_the_exact_time_on_hover(admin_client):
    goal = GoalFactory()
    page = admin_client.get(CHANGELIST).content.decode()
    exact = goal.updated_at.isoformat()
    assert f'<time datetime="{exact}" title="{exact}">' in page
    assert goal.updated_at.strftime("%Y-%m-%d %H:%M:%S") in page


def test_deadline_filters_look_forward(admin_client):
    today = timezone.localdate()
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    dates = {
        "yesterday": today - dt.timedelta(days=1),
        "today": today,
        "in 6 days": today + dt.timedelta(days=6),
        "in 7 days": today + dt.timedelta(days=7),
        "month end": month_end,
        "next month": month_end + dt.timedelta(days=1),
        "no date": None,
    }
    for title, day in dates.items():
        GoalFactory(title=title, target_date=day)
    GoalFactory(title="done late", target_date=dates["yesterday"], status=GoalStatus.COMPLETED)
    GoalFactory(title="archived late", target_date=dates["yesterday"], status="archived")

    def titles(deadline):
        results = admin_client.get(CHANGELIST, {"deadline": deadline}).context["cl"].result_list
        return {goal.title for goal in results}

    assert titles("overdue") == {"yesterday"}
    within_a_week = {"today", "in 6 days"} | (
        {"month end"} if month_end <= dates["in 6 days"] else set()
    )
    assert titles("next_7_days") == within_a_week
    this_month = {"today", "month end"} | {
        title for title in ("in 6 days", "in 7 days") if dates[title] <= month_end
    }
    assert titles("this_month") == this_month
    assert titles("none") == {"no date"}
    choices = admin_client.get(CHANGELIST).content.decode()
    for label in ("Overdue", "Next 7 days", "This month", "No date"):
        assert f">{label}</a>" in choices
    assert "Past 7 days" not in choices


def test_archive_and_restore_say_what_they_do(admin_client):
    goals = GoalFactory.create_batch(2)
    pks = [str(goal.pk) for goal in goals]
    actions = dict(admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert actions["archive"] == "Archive selected goals (hide them from their owners' lists)"
    assert actions["restore"] == "Restore selected archived goals (set them active)"
    archived = admin_client.post(
        CHANGELIST, {"action": "archive", "_selected_action": pks}, follow=True
    )
    (message,) = [str(message) for message in archived.context["messages"]]
    assert message.startswith("Archived 2 goal(s): kept, hidden from their owners' default lists")
    assert Goal.objects.get(pk=goals[0].pk).updated_at > goals[0].updated_at
    restored = admin_client.post(
        CHANGELIST, {"action": "restore", "_selected_action": pks}, follow=True
    )
    (message,) = [str(message) for message in restored.context["messages"]]
    assert message.startswith("Restored 2 archived goal(s): active again")


def test_erasing_is_for_superusers_only(staff_client):
    goal = GoalFactory()
    page = staff_client.get(f"{CHANGELIST}{goal.pk}/change/")
    assert page.status_code == 200
    assert "Erase for good" not in page.content.decode()
    actions = dict(staff_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert set(actions) >= {"archive", "restore"}
    assert staff_client.get(f"{CHANGELIST}{goal.pk}/delete/").status_code == 403
    staff_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [goal.pk], "post": "yes"}
    )
    assert Goal.objects.filter(pk=goal.pk).exists()


def test_erase_is_named_and_last_among_the_superusers_actions(admin_client):
    actions = admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert [name for name, _ in actions][1:] == ["archive", "restore", "delete_selected"]
    assert actions[-1][1] == "Erase selected goals for good (cannot be undone)"
    goal = GoalFactory()
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/change/").content.decode()
    assert "Erase for good…</a>" in page


def test_the_erase_page_spells_out_the_consequence(admin_client):
    goal = GoalFactory(title="Learn to swim", user=UserFactory(clerk_user_id="user_swimmer"))
    page = admin_client.get(f"{CHANGELIST}{goal.pk}/delete/").content.decode()
    assert "This erases the goal “Learn to swim” of user_swimmer for good." in page
    assert "nothing can bring it back" in page
    assert "archive it instead" in page
    assert 'value="Yes, erase this goal for good"' in page
    assert Goal.objects.filter(pk=goal.pk).exists()  # looking is not erasing
    admin_client.post(f"{CHANGELIST}{goal.pk}/delete/", {"post": "yes"})
    assert not Goal.objects.filter(pk=goal.pk).exists()


def test_the_bulk_erase_page_spells_out_the_consequence(
    admin_client, django_assert_max_num_queries
):
    def confirmation(pks):
        return admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": pks})

    pks = [str(goal.pk) for goal in GoalFactory.create_batch(3)]
    with django_assert_max_num_queries(100) as few:
        page = confirmation(pks).content.decode()
    assert "This erases 3 goals for good." in page
    assert "archive it instead" in page
    assert 'value="Yes, erase 3 goals for good"' in page
    pks += [str(goal.pk) for goal in GoalFactory.create_batch(27)]
    with django_assert_max_num_queries(len(few.captured_queries)):  # one query per row would show
        assert "This erases 30 goals for good." in confirmation(pks).content.decode()
    assert Goal.objects.count() == 30
    admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": pks, "post": "yes"}
    )
    assert Goal.objects.count() == 0


def test_the_admin_s_errors_are_pages_and_the_api_s_json(client, db):
    """A staff member without a permission meets Django's 403 page (handler403 answered the
    admin with the API's JSON); an unknown goal is the admin's own 404 page."""
    staff = get_user_model().objects.create_user("no_permissions", is_staff=True)
    client.force_login(staff)
    goal = GoalFactory()
    erase = client.post(f"{CHANGELIST}{goal.pk}/delete/", {"post": "yes"})
    assert erase.status_code == 403
    assert erase["Content-Type"].startswith("text/html")
    assert Goal.objects.filter(pk=goal.pk).exists()
    missing = client.get("/admin/goals/goal/not-a-goal/change/", follow=True)
    assert missing["Content-Type"].startswith("text/html")
    api = client.get("/api/v1/nothing-here")
    assert (api.status_code, api["Content-Type"]) == (404, "application/json")
