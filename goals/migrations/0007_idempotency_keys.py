"""Idempotency-Key: the table of keys and answers (goals.idempotency)."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0006_search_and_sync"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="IdempotencyKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=255)),
                (
                    "fingerprint",
                    models.CharField(
                        help_text="SHA-256 of the body as parsed JSON.", max_length=64
                    ),
                ),
                ("status_code", models.PositiveSmallIntegerField(null=True)),
                ("body", models.JSONField(null=True)),
                ("headers", models.JSONField(null=True)),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                ("expires_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "idempotency_keys",
                "indexes": [
                    models.Index(fields=["expires_at"], name="idx_idempotency_keys_expiry")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "key"), name="idempotency_keys_user_key"
                    )
                ],
            },
        ),
    ]
