from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now

# Usernames derived from a Clerk user id start with this; local accounts may not (issue #12,
# item 6). ':' is outside Django's username alphabet, so neither the admin's forms nor
# createsuperuser can make such a name, and a constraint refuses it for any other way in.
CLERK_USERNAME_PREFIX = "clerk:"


class User(AbstractUser):
    """A person: a Clerk user (``clerk_user_id`` set) or a local staff account (it is null).

    The primary key is made by PostgreSQL (``gen_random_uuid()``), so rows inserted by plain SQL
    get one too. A Clerk user's email, names and image come from Clerk's webhooks
    (``accounts.webhooks``); its username is derived from the Clerk id and means nothing.
    """

    id = models.UUIDField(primary_key=True, db_default=RandomUUID(), editable=False)
    clerk_user_id = models.CharField(
        "Clerk user id",
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text="The `sub` of this person's Clerk session tokens; empty for local staff accounts.",
    )
    image_url = models.URLField(
        "image URL",
        max_length=2048,
        blank=True,
        default="",
        db_default="",  # rows inserted by plain SQL (docs/seed-explain.sql) get it too
        help_text="The profile image Clerk reports (user.created / user.updated webhooks).",
    )
    clerk_updated_at = models.DateTimeField(
        "updated in Clerk",
        null=True,
        blank=True,
        editable=False,
        help_text="`updated_at` of the last Clerk event applied: an older event changes nothing.",
    )

    class Meta(AbstractUser.Meta):
        db_table = "users"
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(clerk_user_id=""),
                name="users_clerk_user_id_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(clerk_user_id__isnull=False)
                | ~models.Q(username__startswith=CLERK_USERNAME_PREFIX),
                name="users_clerk_username_prefix_reserved",
                violation_error_message="Usernames starting with 'clerk:' belong to Clerk users.",
            ),
        ]

    def __str__(self) -> str:
        return self.clerk_user_id or self.username

    @property
    def public_id(self) -> str:
        """The id the API shows as a goal's ``user_id``: the Clerk id, else this row's id."""
        return self.clerk_user_id or str(self.pk)


class ErasedClerkUser(models.Model):
    """A tombstone: this Clerk user was deleted in Clerk and erased here (``user.deleted``).

    Nothing personal: the Clerk id and the time. It keeps the person erased: neither a late or
    replayed ``user.updated`` nor a session token issued before the deletion creates the account
    again (``accounts.services``).
    """

    clerk_user_id = models.CharField("Clerk user id", max_length=255, primary_key=True)
    erased_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "accounts_erased_clerk_users"
        verbose_name = "erased Clerk user"

    def __str__(self) -> str:
        return self.clerk_user_id


class WebhookDelivery(models.Model):
    """A Clerk (Svix) delivery already processed, by its ``svix-id``: a redelivery or replay of
    the same message is acknowledged and changes nothing. Only verified deliveries whose
    processing committed are here (a refused one is retried by Svix and must still work).
    Kept ``DELIVERY_RETENTION`` (accounts.services), far longer than Svix retries."""

    id = models.CharField("svix-id", max_length=255, primary_key=True)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        db_table = "accounts_webhook_deliveries"
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return self.id
