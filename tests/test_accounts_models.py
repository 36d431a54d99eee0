import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Client, User
from tests.factories import ClientFactory


def test_it_logs_in_by_email_case_insensitively(alice, client):
    assert client.login(username="ALICE@Acme.Example", password="correct horse battery staple")


def test_it_stores_emails_lower_case_and_refuses_a_case_variant_duplicate(alice):
    assert User.objects.get(pk=alice.pk).email == "alice@acme.example"
    with pytest.raises(ValidationError):
        User.objects.create_user("Alice@ACME.example", "another-password-123")
    with transaction.atomic(), pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="alice@acme.example")])


def test_it_keeps_staff_out_of_every_client(client_a):
    user = User(email="staff@caly.example", is_staff=True, client=client_a)
    with pytest.raises(ValidationError):
        user.full_clean(exclude=["password"])
    with transaction.atomic(), pytest.raises(IntegrityError):
        User.objects.bulk_create([user])


def test_it_gives_a_superuser_no_client(db):
    user = User.objects.create_superuser("root@caly.example", "a-long-password-1")
    assert user.is_staff and user.is_superuser and user.client is None


def test_it_creates_clients_with_a_uuid_and_kolkata_time(db):
    client = ClientFactory()
    assert client.public_id.version == 4
    assert client.timezone == "Asia/Kolkata"
    assert client.is_active and client.created_at and client.updated_at


def test_it_rejects_an_unknown_timezone(db):
    client = Client(name="X", slug="x", timezone="Mars/Olympus")
    with pytest.raises(ValidationError) as error:
        client.full_clean()
    assert "timezone" in error.value.message_dict


def test_it_lists_clients_and_users_in_the_admin(staff, alice, client):
    client.force_login(staff)
    assert client.get("/admin/accounts/client/").status_code == 200
    assert client.get(f"/admin/accounts/client/{alice.client_id}/change/").status_code == 200
    response = client.get("/admin/accounts/user/?q=alice")
    assert response.status_code == 200 and b"alice@acme.example" in response.content
    assert client.get(f"/admin/accounts/user/{alice.pk}/change/").status_code == 200
    assert client.get("/admin/accounts/user/add/").status_code == 200


def test_it_refuses_to_seed_demo_logins_without_debug(db, settings):
    from django.core.management import CommandError, call_command

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
