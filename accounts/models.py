from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.functions import RandomUUID
from django.db import models


class User(AbstractUser):
    """A person: a Clerk user (``clerk_user_id`` set) or a local staff account (it is null).

    The primary key is made by PostgreSQL (``gen_random_uuid()``), so rows inserted by plain SQL
    get one too.
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

    class Meta(AbstractUser.Meta):
        db_table = "users"
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(clerk_user_id=""),
                name="users_clerk_user_id_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.clerk_user_id or self.username

    @property
    def public_id(self) -> str:
        """The id the API shows as a goal's ``user_id``: the Clerk id, else this row's id."""
        return self.clerk_user_id or str(self.pk)
