"""goal_events: the table of a goal's past (migration 0010 installs what writes it)."""

import django.contrib.postgres.functions
import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0009_per_user_limit_from_the_session"),
    ]

    operations = [
        migrations.CreateModel(
            name="GoalEvent",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        db_default=django.contrib.postgres.functions.RandomUUID(),
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("user_id", models.UUIDField()),
                (
                    "occurred_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("archived", "Archived"),
                            ("restored", "Restored"),
                            ("updated", "Updated"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "actor",
                    models.CharField(
                        choices=[("user", "User"), ("staff", "Staff"), ("system", "System")],
                        max_length=10,
                    ),
                ),
                ("changes", models.JSONField()),
                (
                    "goal",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="events",
                        to="goals.goal",
                    ),
                ),
            ],
            options={
                "db_table": "goal_events",
                "ordering": ["-occurred_at", "-id"],
                "indexes": [
                    models.Index(fields=["goal", "occurred_at", "id"], name="idx_goal_events_goal"),
                    models.Index(
                        fields=["user_id", "occurred_at", "id"], name="idx_goal_events_user"
                    ),
                    models.Index(
                        condition=models.Q(("changes__status__to", "completed")),
                        fields=["user_id", "goal", "occurred_at"],
                        name="idx_goal_events_completed",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("action__in", ["created", "archived", "restored", "updated"])
                        ),
                        name="goal_events_action_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("actor__in", ["user", "staff", "system"])),
                        name="goal_events_actor_valid",
                    ),
                ],
            },
        ),
    ]
