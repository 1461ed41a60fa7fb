"""What Django 5.2 cannot declare on a model: the updated_at trigger and ON DELETE CASCADE.

Both live in PostgreSQL itself, so raw SQL, QuerySet.update() and deletes outside Django obey them.
"""

from django.db import migrations

# Django creates the foreign key without an ON DELETE clause (it cascades in Python); replace it
# with one that cascades in the database, under the same name. (Migration 0007 reuses it.)
REPLACE_USER_FK = """
DO $$
DECLARE fk text;
BEGIN
    SELECT conname INTO STRICT fk FROM pg_constraint
     WHERE conrelid = '{table}'::regclass AND contype = 'f'
       AND conkey = ARRAY[(SELECT attnum FROM pg_attribute
                            WHERE attrelid = '{table}'::regclass AND attname = 'user_id')];
    EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', fk);
    EXECUTE format(
        'ALTER TABLE {table} ADD CONSTRAINT %I FOREIGN KEY (user_id) REFERENCES users (id) '
        '{on_delete} DEFERRABLE INITIALLY DEFERRED', fk);
END $$;
"""

CREATE_TRIGGER = """
CREATE FUNCTION update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    -- statement_timestamp(), like the column defaults (Django's Now()): within one transaction
    -- now() is the transaction's start, which would put updated_at before a created_at written
    -- earlier in the same transaction.
    NEW.updated_at = statement_timestamp();
    RETURN NEW;
END $$;

CREATE TRIGGER update_goals_updated_at
    BEFORE UPDATE ON goals
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();
"""

DROP_TRIGGER = """
DROP TRIGGER update_goals_updated_at ON goals;
DROP FUNCTION update_updated_at_column();
"""


class Migration(migrations.Migration):
    dependencies = [("goals", "0001_initial")]

    operations = [
        migrations.RunSQL(
            REPLACE_USER_FK.format(table="goals", on_delete="ON DELETE CASCADE"),
            reverse_sql=REPLACE_USER_FK.format(table="goals", on_delete=""),
        ),
        migrations.RunSQL(CREATE_TRIGGER, reverse_sql=DROP_TRIGGER),
    ]
