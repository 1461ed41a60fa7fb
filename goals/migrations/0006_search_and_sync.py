"""Search (?q=) and incremental sync (?updated_after=): the folding and query functions first
(goals.search), then the generated column built with them, and the sync index. (No GIN index:
a search reads the owner's own rows; goals.search says why.)"""

import django.contrib.postgres.search
from django.conf import settings
from django.db import migrations, models

import goals.search


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0005_per_user_limit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(goals.search.FOLD, reverse_sql=goals.search.UNFOLD),
        migrations.AddField(
            model_name="goal",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=goals.search.SearchDocument("title", "description"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="goal",
            index=models.Index(fields=["user", "updated_at", "id"], name="idx_goals_user_updated"),
        ),
    ]
