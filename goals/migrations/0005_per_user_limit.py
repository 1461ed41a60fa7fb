"""A user holds at most GOALS_PER_USER_LIMIT goals (the contract), enforced by PostgreSQL for every
writer: the API, the admin, raw SQL.

goal_owner_counts holds each user's number of goals, kept by the goals_per_user_limit trigger on
every insert, delete and owner change. The increment is the check: INSERT ... ON CONFLICT DO
UPDATE SET goals = goals + 1 WHERE goals < limit takes the owner's row lock and re-reads the row
after any concurrent writer of that owner, so concurrent creates at the edge cannot both pass;
nothing updated means the owner is full, and the statement fails with the constraint name
goals_per_user_limit (goals.limits turns that into the API's 409). One row per owner, O(1) per
write, whatever the owner holds. (A COUNT(*) under an advisory lock does the same with no new
state, but costs a scan of the owner's goals on every create: 2.6 ms at 10,000.)

The limit is the trigger's argument: this migration installs the default, and every `migrate`
set the configured value (on post_migrate) until 0009 made it the writer's session setting.
"""

from django.db import migrations, models

CREATE = """
CREATE FUNCTION goals_per_user_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    goal_limit integer := TG_ARGV[0]::integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id = OLD.user_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO goal_owner_counts AS c (user_id, goals) VALUES (NEW.user_id, 1)
            ON CONFLICT (user_id) DO UPDATE SET goals = c.goals + 1 WHERE c.goals < goal_limit;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'A user holds at most % goals (archived ones included).', goal_limit
                USING ERRCODE = 'check_violation', CONSTRAINT = 'goals_per_user_limit',
                      DETAIL = goal_limit::text;
        END IF;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        -- An owner with no goal left has no row: an erased user leaves nothing behind.
        DELETE FROM goal_owner_counts WHERE user_id = OLD.user_id AND goals = 1;
        IF NOT FOUND THEN
            UPDATE goal_owner_counts SET goals = goals - 1 WHERE user_id = OLD.user_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;

INSERT INTO goal_owner_counts (user_id, goals) SELECT user_id, count(*) FROM goals GROUP BY 1;

CREATE TRIGGER goals_per_user_limit
    AFTER INSERT OR DELETE OR UPDATE OF user_id ON goals
    FOR EACH ROW EXECUTE FUNCTION goals_per_user_limit('10000');
"""

DROP = """
DROP TRIGGER goals_per_user_limit ON goals;
DROP FUNCTION goals_per_user_limit();
"""


class Migration(migrations.Migration):
    dependencies = [("goals", "0004_drop_goal_counts")]

    operations = [
        migrations.CreateModel(
            name="GoalOwnerCount",
            fields=[
                ("user_id", models.UUIDField(primary_key=True, serialize=False)),
                ("goals", models.IntegerField()),
            ],
            options={
                "db_table": "goal_owner_counts",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("goals__gte", 0)),
                        name="goal_owner_counts_not_negative",
                    )
                ],
            },
        ),
        migrations.RunSQL(CREATE, reverse_sql=DROP),
    ]
