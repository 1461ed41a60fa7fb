import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

pytestmark = pytest.mark.django_db


def columns(table: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_name = %s",
            [table],
        )
        return {
            name: (kind, nullable, default) for name, kind, nullable, default in cursor.fetchall()
        }


def test_users_table_has_a_database_generated_uuid_key_and_the_clerk_id():
    cols = columns("users")
    assert cols["id"] == ("uuid", "NO", "gen_random_uuid()")
    assert cols["clerk_user_id"] == ("character varying", "YES", None)
    assert {"username", "password", "email", "is_staff", "is_superuser", "is_active"} <= set(cols)


def test_clerk_user_id_is_unique_and_nullable():
    User = get_user_model()
    User.objects.create(username="staff1")
    User.objects.create(username="staff2")  # two local accounts without a Clerk id
    User.objects.create(username="c1", clerk_user_id="user_x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="c2", clerk_user_id="user_x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="c3", clerk_user_id="")


def test_plain_sql_insert_gets_an_id():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (password, is_superuser, username, first_name, last_name, email, "
            "is_staff, is_active, date_joined) VALUES ('!', false, 'sql', '', '', '', false, true, now()) "
            "RETURNING id"
        )
        assert isinstance(cursor.fetchone()[0], uuid.UUID)


def test_public_id_is_the_clerk_id_or_the_row_id():
    User = get_user_model()
    clerk_user = User.objects.create(username="a", clerk_user_id="user_a")
    staff = User.objects.create(username="b")
    assert clerk_user.public_id == "user_a"
    assert staff.public_id == str(staff.pk)
    assert str(clerk_user) == "user_a"
    assert str(staff) == "b"


def test_createsuperuser_can_log_in_to_the_admin(client, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")
    call_command(
        "createsuperuser",
        "--noinput",
        "--username",
        "root",
        "--email",
        "root@example.com",
        verbosity=0,
    )
    assert client.login(username="root", password="a-long-admin-passphrase")
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_migration_0002_moves_existing_clerk_usernames_into_the_namespace():
    """Rows made before issue #12 item 6 had username == Clerk id; after the migration they are
    "clerk:<id>" (hashed when too long), and local accounts keep their names."""
    from django.db.migrations.executor import MigrationExecutor

    MigrationExecutor(connection).migrate([("accounts", "0001_initial")])
    long_id = "user_" + "y" * 200
    with connection.cursor() as cursor:
        for username, clerk_id in [
            ("user_old", "user_old"),
            ("clerk-" + "0" * 64, long_id),
            ("staff", None),
        ]:
            cursor.execute(
                "INSERT INTO users (password, is_superuser, username, first_name, last_name, "
                "email, is_staff, is_active, date_joined, clerk_user_id) "
                "VALUES ('!', false, %s, '', '', '', false, true, now(), %s)",
                [username, clerk_id],
            )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from accounts.services import username_for

    names = dict(get_user_model().objects.values_list("clerk_user_id", "username"))
    assert names == {
        "user_old": "clerk:user_old",
        long_id: username_for(long_id),
        None: "staff",
    }
    assert names[long_id].startswith("clerk:sha256:")
