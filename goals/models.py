"""Goals: a person's long-term ambitions, the anchor of milestones, missions and analytics.

PostgreSQL enforces every rule that must always hold (CHECK constraints, defaults, the
``updated_at`` trigger, ``ON DELETE CASCADE``), so raw SQL, ``QuerySet.update()`` and the admin
cannot store what the API would refuse. Enumerations are VARCHAR + CHECK, not PostgreSQL ENUMs:
a new value category is one migration.
"""

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.functions import Length, Now

from goals.search import SearchDocument


class GoalType(models.TextChoices):
    """How a goal is pursued."""

    ABSTRACT = "abstract", "Abstract"  # a broad aspiration that needs decomposing ("Be healthier")
    CONCRETE = "concrete", "Concrete"  # specific and measurable ("Run 5k under 30 minutes")


class ValueCategory(models.TextChoices):
    """The universal human need a goal serves."""

    HEALTH = "health", "Health"  # physical and mental well-being
    CRAFT = "craft", "Craft"  # creative expression and skill mastery
    GROWTH = "growth", "Growth"  # learning and intellectual development
    CONNECTION = "connection", "Connection"  # relationships and community


class GoalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"  # soft-deleted: kept for history, hidden from default lists


TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000


class GoalQuerySet(models.QuerySet):
    def owned_by(self, user) -> "GoalQuerySet":
        """The one answer to "whose goals are these?": every caller scopes through it.
        ``user``: a user, its primary key, or a ``goals.prepared.Slot`` for one."""
        return self.filter(user=user)

    def visible(self) -> "GoalQuerySet":
        """What a default list shows: everything but archived goals."""
        return self.exclude(status=GoalStatus.ARCHIVED)


class Goal(models.Model):
    id = models.UUIDField(primary_key=True, db_default=RandomUUID(), editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,  # ON DELETE CASCADE is also in the database (migration 0002)
        related_name="goals",
        db_column="user_id",
        db_index=False,  # idx_goals_user_status leads with user_id and serves the same lookups
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(null=True, blank=True)  # noqa: DJ001 - the contract's NULL
    goal_type = models.CharField(max_length=20, choices=GoalType.choices)
    value_category = models.CharField(max_length=50, choices=ValueCategory.choices)
    target_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=GoalStatus.choices, db_default=GoalStatus.ACTIVE
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    # Set by the trigger update_goals_updated_at on every UPDATE, whoever issues it.
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # The words ?q= searches (goals.search), kept by PostgreSQL itself.
    search_document = models.GeneratedField(
        expression=SearchDocument("title", "description"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = GoalQuerySet.as_manager()

    class Meta:
        db_table = "goals"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(goal_type__in=GoalType.values), name="goals_goal_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(value_category__in=ValueCategory.values),
                name="goals_value_category_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=GoalStatus.values), name="goals_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(title__regex=r"\S"), name="goals_title_not_blank"
            ),
            models.CheckConstraint(
                condition=models.Q(description__isnull=True)
                | models.Q(description__length__lte=DESCRIPTION_MAX_LENGTH),
                name="goals_description_max_length",
            ),
        ]
        indexes = [
            # Lists filtered by status, in the default order (the contract's idx_goals_user_status).
            models.Index(
                fields=["user", "status", "-created_at", "-id"], name="idx_goals_user_status"
            ),
            # The default list (every status but archived), newest first: an index scan in
            # order that stops after one page, and an index-only COUNT. Not a partial index
            # (WHERE status <> 'archived'): a prepared statement's generic plan compares status
            # with a parameter and could not use it.
            models.Index(
                fields=["user", "-created_at", "-id"],
                include=["status"],
                name="idx_goals_user_created",
            ),
            # Incremental sync: updated_after=... in updated_at order, an index range scan.
            models.Index(fields=["user", "updated_at", "id"], name="idx_goals_user_updated"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_archived(self) -> bool:
        return self.status == GoalStatus.ARCHIVED


class GoalOwnerCount(models.Model):
    """How many goals a user holds (archived ones included): what enforces GOALS_PER_USER_LIMIT.

    Written only by the ``goals_per_user_limit`` trigger on ``goals`` (migration 0005), on every
    insert, delete and owner change, whoever issues it: the increment and the limit check are
    one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE goals < limit``, so concurrent creates at
    the edge queue on the owner's row and cannot overshoot. A plain ``user_id`` (no foreign key):
    a deleted user's goals bring it to zero, in any order.
    """

    user_id = models.UUIDField(primary_key=True)
    goals = models.IntegerField()

    class Meta:
        db_table = "goal_owner_counts"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(goals__gte=0), name="goal_owner_counts_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.goals} goals"


class IdempotencyKey(models.Model):
    """A create sent with ``Idempotency-Key``, and the answer it got (goals.idempotency).

    One row per user and key (the unique constraint is what makes concurrent retries create one
    goal), kept until ``expires_at`` (24 hours) and pruned after: opportunistically by the next
    keyed create, and by ``manage.py prune_idempotency_keys``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,  # ON DELETE CASCADE in the database too (migration 0007)
        related_name="+",
        db_index=False,  # the unique (user, key) index leads with user_id
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the body as parsed JSON.")
    # The answer: written in the transaction that claimed the key, so never empty once committed.
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.JSONField(null=True)
    headers = models.JSONField(null=True)
    created_at = models.DateTimeField(db_default=Now())
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_keys_user_key")
        ]
        indexes = [models.Index(fields=["expires_at"], name="idx_idempotency_keys_expiry")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status_code}"


class GoalEventAction(models.TextChoices):
    """What a write did to a goal (goals.history)."""

    CREATED = "created", "Created"  # every tracked field, each from null
    ARCHIVED = "archived", "Archived"  # status became archived
    RESTORED = "restored", "Restored"  # status left archived
    UPDATED = "updated", "Updated"  # anything else


class Actor(models.TextChoices):
    """Who wrote (goals.history): the owner through the API, staff in the admin, or anything
    else (a management command, a migration, SQL)."""

    USER = "user", "User"
    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"


# The fields whose changes a goal's history records, in the order the admin shows them.
TRACKED_FIELDS = ("title", "description", "goal_type", "value_category", "target_date", "status")


class GoalEventQuerySet(models.QuerySet):
    def owned_by(self, user) -> "GoalEventQuerySet":
        """The events of ``user``'s goals (a user or its primary key), as ``Goal.owned_by``."""
        return self.filter(user_id=getattr(user, "pk", user))


class GoalEvent(models.Model):
    """One write that changed at least one tracked field of a goal: written by PostgreSQL itself
    (the triggers of migration 0009, goals.history), whoever wrote, and never edited.

    ``changes`` holds exactly the fields that changed, ``{"field": {"from": ..., "to": ...}}``,
    with their JSON values (dates as ``YYYY-MM-DD``). ``user_id`` is the goal's owner, kept equal
    to it by the triggers (the user-wide history reads by it); the events go with their goal
    (``ON DELETE CASCADE`` in the database too).
    """

    id = models.UUIDField(primary_key=True, db_default=RandomUUID(), editable=False)
    goal = models.ForeignKey(
        Goal,
        # ON DELETE CASCADE in the database (migration 0010) does it: with a cascade in Python,
        # Django's collector would load every goal of a user it deletes (to find their events)
        # instead of deleting them in one statement.
        on_delete=models.DO_NOTHING,
        related_name="events",
        db_index=False,  # idx_goal_events_goal leads with goal_id
    )
    user_id = models.UUIDField()
    # The trigger's clock_timestamp(): a write that waited for another's row lock is later.
    occurred_at = models.DateTimeField(db_default=Now())
    action = models.CharField(max_length=10, choices=GoalEventAction.choices)
    actor = models.CharField(max_length=10, choices=Actor.choices)
    changes = models.JSONField()

    objects = GoalEventQuerySet.as_manager()

    class Meta:
        db_table = "goal_events"
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=GoalEventAction.values),
                name="goal_events_action_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(actor__in=Actor.values), name="goal_events_actor_valid"
            ),
        ]
        indexes = [
            # A goal's history, newest first (scanned backwards).
            models.Index(fields=["goal", "occurred_at", "id"], name="idx_goal_events_goal"),
            # All of a user's history, newest first, and its occurred_after/before range.
            models.Index(fields=["user_id", "occurred_at", "id"], name="idx_goal_events_user"),
            # When each goal last became completed (insights): only those events, a few.
            models.Index(
                fields=["user_id", "goal", "occurred_at"],
                condition=models.Q(changes__status__to=GoalStatus.COMPLETED),
                name="idx_goal_events_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.get_actor_display().lower()}"


# The ``length`` lookup the description constraint uses.
models.TextField.register_lookup(Length)
