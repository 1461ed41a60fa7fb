"""Deleting a user deletes their idempotency keys in the database too, as it does their goals
(Django adds the foreign key at the end of 0007, so it is replaced here)."""

import importlib

from django.db import migrations

rules = importlib.import_module("goals.migrations.0002_database_rules")


class Migration(migrations.Migration):
    dependencies = [("goals", "0007_idempotency_keys")]

    operations = [
        migrations.RunSQL(
            rules.REPLACE_USER_FK.format(table="idempotency_keys", on_delete="ON DELETE CASCADE"),
            reverse_sql=rules.REPLACE_USER_FK.format(table="idempotency_keys", on_delete=""),
        ),
    ]
