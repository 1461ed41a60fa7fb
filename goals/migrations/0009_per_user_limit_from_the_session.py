"""The per-user goal limit is the writer's, read from its session; the schema no longer holds the
settings of the last `migrate`.

0005's trigger took the limit as its argument, and every `migrate` rewrote that argument from
GOALS_PER_USER_LIMIT (post_migrate): the schema then held whatever the last migrate's settings
said, for every writer at once, and two services with different limits on one database undid
each other at each deployment. Now the function reads the session setting
delight.goals_per_user_limit, which the service sets on every connection it opens (libpq's
``options``, delight/settings.py DATABASE_SESSION_SETTINGS). A writer that sets none (psql, a
script, another tool) gets the contract's default, 10,000, written here. Everything else is
0005's: the count row per owner, its increment as the check (concurrent creates at the edge
queue on the owner's row), the constraint name goals.limits turns into the API's 409, with the
limit that was applied as its detail. A limit below 1 refuses every goal.

It is a bound on what one account can cost, not a permission: a session may set its own limit,
as a writer who can run SQL on goals can anyway.
"""

from django.db import migrations

DEFAULT_LIMIT = 10_000  # the contract's

FUNCTION = """
CREATE OR REPLACE FUNCTION goals_per_user_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    goal_limit integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.user_id = OLD.user_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- The writer's limit, else the default ('' once a session has RESET the setting).
        goal_limit := coalesce(
            nullif(current_setting('delight.goals_per_user_limit', true), '')::integer, DEFAULT_LIMIT
        );
        INSERT INTO goal_owner_counts AS c (user_id, goals) VALUES (NEW.user_id, 1)
            ON CONFLICT (user_id) DO UPDATE SET goals = c.goals + 1 WHERE c.goals < goal_limit;
        IF NOT FOUND OR goal_limit < 1 THEN
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

CREATE OR REPLACE TRIGGER goals_per_user_limit
    AFTER INSERT OR DELETE OR UPDATE OF user_id ON goals
    FOR EACH ROW EXECUTE FUNCTION goals_per_user_limit();
""".replace("DEFAULT_LIMIT", str(DEFAULT_LIMIT))

# Back to 0005: the limit as the trigger's argument, its default.
REVERSE = """
CREATE OR REPLACE FUNCTION goals_per_user_limit() RETURNS trigger LANGUAGE plpgsql AS $$
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
        DELETE FROM goal_owner_counts WHERE user_id = OLD.user_id AND goals = 1;
        IF NOT FOUND THEN
            UPDATE goal_owner_counts SET goals = goals - 1 WHERE user_id = OLD.user_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER goals_per_user_limit
    AFTER INSERT OR DELETE OR UPDATE OF user_id ON goals
    FOR EACH ROW EXECUTE FUNCTION goals_per_user_limit('10000');
"""


class Migration(migrations.Migration):
    dependencies = [("goals", "0008_idempotency_keys_cascade")]

    operations = [migrations.RunSQL(FUNCTION, reverse_sql=REVERSE)]
