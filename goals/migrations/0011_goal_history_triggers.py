"""A goal's past: every write that changes a tracked field, kept in goal_events by PostgreSQL
itself (goals.history says why triggers, and how the actor is known).

- goals_record_created (AFTER INSERT) and goals_record_changed (AFTER UPDATE) call
  goal_events_record(), which writes one event when a tracked field differs (a write that
  changes none records nothing): the action, the changed fields from/to as JSON, the actor (read from the
  marker the writer puts at the start of its statement: current_query()), and clock_timestamp(),
  so a write that waited for another's row lock is dated after it.
- goals_record_owner: the events follow their goal to a new owner (plain SQL may move a goal).
- goal_events_never_edited: an UPDATE of an event is refused (but the owner's id, kept in step).
- The foreign key to goals cascades in the database: the events go with their goal, and with its
  owner (users -> goals -> goal_events).
- Every goal already here gets its created event, dated at its created_at, actor system: it
  records the goal as it is now (what it was at its creation is not known).
"""

from django.db import migrations

# As migration 0002 does for the owner: Django declares the foreign key without ON DELETE. Checked
# at once rather than at commit (the trigger writes an event after its goal: it always holds),
# which costs a write less (12 µs a statement, docs/DATABASE.md).
REPLACE_GOAL_FK = """
DO $$
DECLARE fk text;
BEGIN
    SELECT conname INTO STRICT fk FROM pg_constraint
     WHERE conrelid = 'goal_events'::regclass AND contype = 'f';
    EXECUTE format('ALTER TABLE goal_events DROP CONSTRAINT %I', fk);
    EXECUTE format(
        'ALTER TABLE goal_events ADD CONSTRAINT %I FOREIGN KEY (goal_id) REFERENCES goals (id) '
        '{on_delete}', fk);
END $$;
"""

# Each tracked field: its change as {"from": old, "to": new}, JSON values (a date "YYYY-MM-DD").
TRACKED = ("title", "description", "goal_type", "value_category", "target_date", "status")
CREATED = ",\n            ".join(
    f"'{name}', jsonb_build_object('from', NULL, 'to', NEW.{name})" for name in TRACKED
)
CHANGED = "\n        ".join(
    f"""IF NEW.{name} IS DISTINCT FROM OLD.{name} THEN
            _changes := _changes || jsonb_build_object(
                '{name}', jsonb_build_object('from', OLD.{name}, 'to', NEW.{name}));
        END IF;"""
    for name in TRACKED
)

CREATE = f"""
-- A time-ordered UUID (the layout of UUID version 7: milliseconds since 1970, then random bits):
-- each new event's id lands at the end of goal_events_pkey instead of a random page of it, and
-- of two events of one microsecond the later has (almost always) the greater id.
CREATE FUNCTION goal_event_id() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE
    RETURN encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                          FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid;

CREATE FUNCTION goal_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The writer's marker (goals.history.marked): only ever at the start of the statement's
    -- text, where no value a client sends can be.
    _head text := left(current_query(), 26);
    _changes jsonb;
    _action varchar;
BEGIN
    IF TG_OP = 'INSERT' THEN
        _action := 'created';
        _changes := jsonb_build_object(
            {CREATED});
    ELSE
        _changes := '{{}}';
        {CHANGED}
        IF _changes = '{{}}' THEN
            RETURN NULL;  -- no tracked field changed: nothing to record
        END IF;
        _action := CASE
            WHEN NEW.status = 'archived' AND OLD.status <> 'archived' THEN 'archived'
            WHEN OLD.status = 'archived' AND NEW.status <> 'archived' THEN 'restored'
            ELSE 'updated' END;
    END IF;
    INSERT INTO goal_events (id, goal_id, user_id, occurred_at, action, actor, changes)
    VALUES (
        goal_event_id(), NEW.id, NEW.user_id,
        -- The time of this write, not of its statement's start: of two writes to one goal, the
        -- second waits for the first's row lock and is dated after it (statement_timestamp()
        -- could date it before).
        clock_timestamp(),
        _action,
        CASE
            WHEN starts_with(_head, '/* delight.actor=user */') THEN 'user'
            WHEN starts_with(_head, '/* delight.actor=staff */') THEN 'staff'
            ELSE 'system' END,
        _changes);
    RETURN NULL;
END $$;

CREATE TRIGGER goals_record_created AFTER INSERT ON goals
    FOR EACH ROW EXECUTE FUNCTION goal_events_record();
-- No WHEN clause naming the tracked columns: PostgreSQL refuses to change the type of a column a
-- trigger's WHEN names ("cannot alter type of a column used in a trigger definition"), and a
-- widened column is a routine migration (docs/DATABASE.md, "Changing the schema under a running
-- service"). The function looks at the fields itself.
CREATE TRIGGER goals_record_changed AFTER UPDATE ON goals
    FOR EACH ROW EXECUTE FUNCTION goal_events_record();

CREATE FUNCTION goal_events_follow_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE goal_events SET user_id = NEW.user_id WHERE goal_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER goals_record_owner AFTER UPDATE OF user_id ON goals
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION goal_events_follow_owner();

CREATE FUNCTION goal_events_never_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.id, OLD.goal_id, OLD.occurred_at, OLD.action, OLD.actor, OLD.changes)
        IS DISTINCT FROM (NEW.id, NEW.goal_id, NEW.occurred_at, NEW.action, NEW.actor, NEW.changes)
    THEN
        RAISE EXCEPTION 'A goal event is never edited.'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'goal_events_never_edited';
    END IF;
    RETURN NEW;
END $$;

-- (The comparison in the function, not in a WHEN clause: see goals_record_changed.)
CREATE TRIGGER goal_events_never_edited BEFORE UPDATE ON goal_events
    FOR EACH ROW EXECUTE FUNCTION goal_events_never_edited();

INSERT INTO goal_events (id, goal_id, user_id, occurred_at, action, actor, changes)
SELECT goal_event_id(), id, user_id, created_at, 'created', 'system', jsonb_build_object(
            {CREATED.replace("NEW.", "")})
  FROM goals;
"""

DROP = """
DROP TRIGGER goal_events_never_edited ON goal_events;
DROP FUNCTION goal_events_never_edited();
DROP TRIGGER goals_record_owner ON goals;
DROP FUNCTION goal_events_follow_owner();
DROP TRIGGER goals_record_changed ON goals;
DROP TRIGGER goals_record_created ON goals;
DROP FUNCTION goal_events_record();
DROP FUNCTION goal_event_id();
"""


class Migration(migrations.Migration):
    dependencies = [("goals", "0010_goal_history")]

    # One transaction: no goal can be written between the triggers' creation and the backfill
    # (CREATE TRIGGER waits for writers in flight and holds theirs off until the commit).
    operations = [
        migrations.RunSQL(
            REPLACE_GOAL_FK.format(on_delete="ON DELETE CASCADE"),
            reverse_sql=REPLACE_GOAL_FK.format(on_delete=""),
        ),
        migrations.RunSQL(CREATE, reverse_sql=DROP),
    ]
