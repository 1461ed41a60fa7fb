"""goal_counts goes: with at most GOALS_PER_USER_LIMIT goals per user, the list's exact total is a
COUNT(*) over one user's index range, as cheap as the counters were, with no trigger on every
write (docs/PERFORMANCE.md has both measured)."""

import importlib

from django.db import migrations

counts = importlib.import_module("goals.migrations.0003_goal_counts")


class Migration(migrations.Migration):
    dependencies = [("goals", "0003_goal_counts")]

    operations = [
        # Reversed, the table comes back first (DeleteModel), then its trigger and the backfill.
        migrations.RunSQL(counts.DROP, reverse_sql=counts.CREATE),
        migrations.DeleteModel(name="GoalCount"),
    ]
