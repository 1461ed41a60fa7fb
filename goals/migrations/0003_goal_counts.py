"""Per-user goal counts kept by PostgreSQL, so a list's total costs the same for 90,000 goals as
for 90 (docs/PERFORMANCE.md).

goal_counts holds, for each user and status, the number of goals, split over 32 shards chosen by
the goal's id: one user's concurrent writes then contend on different rows. A trigger on goals
keeps it exact for every INSERT, DELETE and status change, whoever issues them (ORM, admin, raw
SQL, the ON DELETE CASCADE of a user). A status change touches its two rows in a fixed order
(by status), so two opposite changes cannot deadlock.
"""

from django.db import migrations, models

SHARD = "(get_byte(uuid_send({id}), 15) % 32)"

CREATE = f"""
CREATE FUNCTION goal_counts_add(p_user uuid, p_status varchar, p_shard smallint, p_delta int)
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_delta > 0 THEN
        INSERT INTO goal_counts AS c (user_id, status, shard, n)
        VALUES (p_user, p_status, p_shard, p_delta)
        ON CONFLICT (user_id, status, shard) DO UPDATE SET n = c.n + p_delta;
    ELSE
        UPDATE goal_counts SET n = n + p_delta
         WHERE user_id = p_user AND status = p_status AND shard = p_shard;
    END IF;
END $$;

CREATE FUNCTION goal_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The hot path (every create), written out rather than through goal_counts_add.
        INSERT INTO goal_counts AS c (user_id, status, shard, n)
        VALUES (NEW.user_id, NEW.status, {SHARD.format(id="NEW.id")}, 1)
        ON CONFLICT (user_id, status, shard) DO UPDATE SET n = c.n + 1;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM goal_counts_add(OLD.user_id, OLD.status, {SHARD.format(id="OLD.id")}::smallint, -1);
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        IF (OLD.user_id, OLD.status) < (NEW.user_id, NEW.status) THEN
            PERFORM goal_counts_add(OLD.user_id, OLD.status, {SHARD.format(id="OLD.id")}::smallint, -1);
            PERFORM goal_counts_add(NEW.user_id, NEW.status, {SHARD.format(id="NEW.id")}::smallint, 1);
        ELSE
            PERFORM goal_counts_add(NEW.user_id, NEW.status, {SHARD.format(id="NEW.id")}::smallint, 1);
            PERFORM goal_counts_add(OLD.user_id, OLD.status, {SHARD.format(id="OLD.id")}::smallint, -1);
        END IF;
    END IF;
    RETURN NULL;
END $$;

INSERT INTO goal_counts (user_id, status, shard, n)
SELECT user_id, status, {SHARD.format(id="id")}, count(*) FROM goals GROUP BY 1, 2, 3;

CREATE TRIGGER goal_counts_apply
    AFTER INSERT OR DELETE OR UPDATE OF status, user_id ON goals
    FOR EACH ROW EXECUTE FUNCTION goal_counts_apply();
"""

DROP = """
DROP TRIGGER goal_counts_apply ON goals;
DROP FUNCTION goal_counts_apply();
DROP FUNCTION goal_counts_add(uuid, varchar, smallint, int);
"""


class Migration(migrations.Migration):
    dependencies = [("goals", "0002_database_rules")]

    operations = [
        migrations.CreateModel(
            name="GoalCount",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "user_id",
                        "status",
                        "shard",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("user_id", models.UUIDField()),
                ("status", models.CharField(max_length=20)),
                ("shard", models.SmallIntegerField()),
                ("n", models.BigIntegerField()),
            ],
            options={
                "db_table": "goal_counts",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("n__gte", 0)), name="goal_counts_not_negative"
                    )
                ],
            },
        ),
        migrations.RunSQL(CREATE, reverse_sql=DROP),
    ]
