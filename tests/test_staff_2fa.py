"""Staff's second factor with STAFF_REQUIRE_2FA on: enrolment, codes after the password, recovery codes,
a fresh code before sensitive admin actions, resets by another superuser or by command, and the
staff audit log, which nobody can change from the admin."""

import base64
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.test import Client as Browser
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Client, StaffAuditAction, StaffAuditEvent, User
from tests.factories import PASSWORD, ShopifyConnectionFactory, StaffFactory
from tests.staff_two_factor import enrol, enrolled, sign_in, totp_code, two_factor_on, verified_staff  # noqa: F401
from tests.test_accounts_admin import change_form

pytestmark = pytest.mark.django_db

ADMIN_PAGES = ["/admin/", "/admin/accounts/user/", "/admin/accounts/client/", "/admin/system/"]


def actions() -> list[str]:
    return list(StaffAuditEvent.objects.order_by("id").values_list("action", flat=True))


def enrolment_key(response) -> bytes:
    """The key the enrolment page shows under its QR code, as an authenticator app would read it."""
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', response.content.decode()).group(1).replace(" ", "")
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


# --- the password alone opens nothing -------------------------------------------------------------


def test_the_password_alone_does_not_reach_the_admin(client, staff, enrolled, two_factor_on):  # noqa: F811
    response = sign_in(client, staff)
    assert response.status_code == 302

    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith("/admin/2fa/verify/?next="), page
    # Outside the admin the half-signed-in session counts for nothing.
    assert client.get("/health/detailed").status_code == 403


def test_a_wrong_code_is_refused_and_the_right_one_admits(client, staff, enrolled, two_factor_on):  # noqa: F811
    sign_in(client, staff)

    response = client.post("/admin/2fa/verify/", {"code": "000000", "next": "/admin/"})
    assert response.status_code == 400 and b"That code is not right." in response.content
    assert client.get("/admin/").status_code == 302

    # django-otp makes the next guess wait (1 s, then 2, 4, …): even the right code is held back.
    response = client.post("/admin/2fa/verify/", {"code": enrolled.code(), "next": "/admin/"})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1

    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        response = client.post("/admin/2fa/verify/", {"code": enrolled.code(), "next": "/admin/"})
        assert response.status_code == 302 and response["Location"] == "/admin/"
        for page in ADMIN_PAGES:
            assert client.get(page).status_code == 200, page
    assert actions()[-4:] == [
        StaffAuditAction.LOGIN_SUCCEEDED,
        StaffAuditAction.TWO_FACTOR_FAILED,
        StaffAuditAction.TWO_FACTOR_FAILED,
        StaffAuditAction.TWO_FACTOR_VERIFIED,
    ]


def test_a_code_is_accepted_once(client, staff, enrolled, two_factor_on):  # noqa: F811
    code = enrolled.code()
    assert sign_in(client, staff, code=code).status_code == 302
    client.logout()

    response = sign_in(client, staff, code=code)
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_the_code_page_sends_only_to_this_site(client, staff, enrolled, two_factor_on):  # noqa: F811
    sign_in(client, staff)
    response = client.post("/admin/2fa/verify/", {"code": enrolled.code(), "next": "https://evil.example/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"


# --- enrolment ----------------------------------------------------------------------------------


def test_staff_without_an_authenticator_enrol_before_any_admin_page(client, staff, two_factor_on):  # noqa: F811
    sign_in(client, staff)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/enrol/?next=")

    page = client.get(response["Location"])
    assert page.status_code == 200 and b'src="data:image/svg+xml;base64,' in page.content
    key = enrolment_key(page)

    refused = client.post("/admin/2fa/enrol/", {"code": "123456", "next": "/admin/accounts/user/"})
    assert refused.status_code == 400
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()

    with time_machine.travel(timezone.now() + timedelta(seconds=2)):  # past the wait after a wrong code
        response = client.post("/admin/2fa/enrol/", {"code": totp_code(key), "next": "/admin/accounts/user/"})
        assert response.status_code == 302
        assert response["Location"] == "/admin/2fa/recovery-codes/?next=%2Fadmin%2Faccounts%2Fuser%2F"

        codes_page = client.get(response["Location"])
        codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", codes_page.content.decode())
        assert len(codes) == 10
        assert set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)) == set(codes)
        assert client.get("/admin/2fa/recovery-codes/").status_code == 302  # shown once
        assert client.get("/admin/accounts/user/").status_code == 200
    assert StaffAuditAction.TWO_FACTOR_ENROLLED in actions()


def test_a_key_shown_to_another_session_can_never_be_enrolled(client, staff, two_factor_on):  # noqa: F811
    """Someone with the password opens the enrolment page first: the staff member gets a key of their own."""
    intruder = Browser()
    sign_in(intruder, staff)
    seen_by_intruder = enrolment_key(intruder.get("/admin/2fa/enrol/"))

    sign_in(client, staff)
    own_key = enrolment_key(client.get("/admin/2fa/enrol/"))
    assert own_key != seen_by_intruder

    refused = intruder.post("/admin/2fa/enrol/", {"code": totp_code(seen_by_intruder)})
    assert refused.status_code == 400 and b"That key has been replaced" in refused.content
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert enrolment_key(refused) != own_key  # the intruder is shown yet another key, and so it goes on

    page = client.get("/admin/2fa/enrol/")  # a key this session has not confirmed yet was replaced above
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        response = client.post("/admin/2fa/enrol/", {"code": totp_code(enrolment_key(page))})
    assert response.status_code == 302
    [device] = TOTPDevice.objects.filter(user=staff)
    assert device.confirmed and device.bin_key == enrolment_key(page)


def test_a_password_alone_cannot_replace_an_enrolled_authenticator(client, staff, enrolled, two_factor_on):  # noqa: F811
    sign_in(client, staff)

    response = client.get("/admin/2fa/enrol/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
    response = client.post("/admin/2fa/enrol/", {"code": "123456"})
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user=staff)) == [enrolled.device]


def test_staff_who_enrolled_give_codes_even_with_the_setting_off(client, staff, enrolled):  # noqa: F811
    sign_in(client, staff)
    assert client.get("/admin/").status_code == 302


def test_otp_device_pages_are_not_in_the_admin(verified_staff):  # noqa: F811
    assert verified_staff.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert verified_staff.get("/admin/otp_static/staticdevice/").status_code == 404


# --- recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once(client, staff, enrolled, two_factor_on):  # noqa: F811
    code = enrolled.recovery_codes[0]
    response = sign_in(client, staff, code=code.upper())
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    client.logout()

    assert sign_in(client, staff, code=code).status_code == 400
    assert client.get("/admin/").status_code == 302
    used = StaffAuditEvent.objects.get(action=StaffAuditAction.RECOVERY_CODE_USED)
    assert used.actor == staff and used.details == {"codes_left": 9}


def test_new_recovery_codes_replace_the_old_ones(verified_staff, staff, enrolled):  # noqa: F811
    response = verified_staff.post("/admin/2fa/")
    assert response.status_code == 302 and response["Location"] == "/admin/2fa/recovery-codes/"
    codes = re.findall(
        r"<li><code>([a-z2-7]{8})</code></li>", verified_staff.get(response["Location"]).content.decode()
    )
    assert len(codes) == 10 and not set(codes) & set(enrolled.recovery_codes)
    verified_staff.logout()

    assert sign_in(verified_staff, staff, code=enrolled.recovery_codes[1]).status_code == 400


# --- a fresh code for sensitive actions -----------------------------------------------------------


@pytest.fixture
def colleague(db):
    """Another staff member, enrolled, not a superuser."""
    user = StaffFactory(email="colleague@caly.example", is_superuser=False)
    enrol(user)
    return user


def code_of(user) -> str:
    return totp_code(TOTPDevice.objects.get(user=user).bin_key)


def later(minutes: int):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes))


def test_making_someone_superuser_needs_a_fresh_code(verified_staff, enrolled, colleague):  # noqa: F811
    url = f"/admin/accounts/user/{colleague.pk}/change/"
    data = change_form(verified_staff, "user", colleague.pk)
    data["is_superuser"] = ["on"]

    with later(16):
        response = verified_staff.post(url, {**data, "_save": "Save"})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/2fa/verify/?next=")
        assert "recheck=1" in response["Location"]
        assert not User.objects.get(pk=colleague.pk).is_superuser

        assert verified_staff.post("/admin/2fa/verify/", {"code": enrolled.code(steps_ahead=1)}).status_code == 302
        response = verified_staff.post(url, {**data, "_save": "Save"})
        assert response.status_code == 302 and response["Location"] == "/admin/accounts/user/"
        assert User.objects.get(pk=colleague.pk).is_superuser


def test_other_changes_need_no_fresh_code(verified_staff, colleague):  # noqa: F811
    data = change_form(verified_staff, "user", colleague.pk)
    data["first_name"] = ["Renamed"]
    with later(16):
        response = verified_staff.post(f"/admin/accounts/user/{colleague.pk}/change/", {**data, "_save": "Save"})
    assert response.status_code == 302 and response["Location"] == "/admin/accounts/user/"
    assert User.objects.get(pk=colleague.pk).first_name == "Renamed"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/user/{colleague}/password/",
        "/admin/accounts/user/{colleague}/delete/",
        "/admin/accounts/client/{client}/delete/",
    ],
)
def test_passwords_and_deletions_need_a_fresh_code(verified_staff, colleague, client_a, path):  # noqa: F811
    path = path.format(colleague=colleague.pk, client=client_a.pk)
    assert verified_staff.get(path).status_code == 200
    with later(16):
        response = verified_staff.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
        response = verified_staff.post(
            path, {"post": "yes", "password1": "n3w-long-pass", "password2": "n3w-long-pass"}
        )
        assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
    assert User.objects.filter(pk=colleague.pk).exists() and Client.objects.filter(pk=client_a.pk).exists()
    assert User.objects.get(pk=colleague.pk).check_password(PASSWORD)


# --- resets ---------------------------------------------------------------------------------------


def reset_action(client, user):
    return client.post("/admin/accounts/user/", {"action": "reset_two_factor", "_selected_action": [user.pk]})


def test_a_superuser_resets_a_colleagues_2fa_and_their_session_enrols_again(verified_staff, staff, colleague):  # noqa: F811
    theirs = Browser()
    sign_in(theirs, colleague, code=code_of(colleague))
    assert theirs.get("/admin/").status_code == 200

    response = reset_action(verified_staff, colleague)
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=colleague).exists()
    assert not StaticToken.objects.filter(device__user=colleague).exists()

    response = theirs.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/enrol/")
    event = StaffAuditEvent.objects.get(action=StaffAuditAction.TWO_FACTOR_RESET)
    assert event.actor == staff and event.email == colleague.email
    assert event.details["channel"] == "admin" and event.details["had_devices"] is True


def test_a_reset_needs_a_fresh_code(verified_staff, colleague):  # noqa: F811
    with later(16):
        response = reset_action(verified_staff, colleague)
    assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
    assert TOTPDevice.objects.filter(user=colleague).exists()


def test_a_second_action_field_does_not_skip_the_fresh_code(verified_staff, colleague):  # noqa: F811
    """Django runs the first posted action (its `index`); the check must not read the last one."""
    with later(16):
        response = verified_staff.post(
            "/admin/accounts/user/",
            {"action": ["reset_two_factor", ""], "index": "0", "_selected_action": [colleague.pk]},
        )
    assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
    assert TOTPDevice.objects.filter(user=colleague).exists()


def test_only_superusers_may_reset(client, colleague, two_factor_on):  # noqa: F811
    other = StaffFactory(email="other@caly.example", is_superuser=False)
    other_enrolment = enrol(other)
    sign_in(client, colleague, code=code_of(colleague))
    colleague.user_permissions.add(*Permission.objects.filter(content_type__app_label="accounts"))

    reset_action(client, other)
    assert TOTPDevice.objects.filter(pk=other_enrolment.device.pk).exists()
    assert not StaffAuditEvent.objects.filter(action=StaffAuditAction.TWO_FACTOR_RESET).exists()


def test_the_command_resets_the_last_superusers_two_factor(staff, enrolled, capsys):  # noqa: F811
    call_command("reset_staff_2fa", staff.email.upper())

    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert "set up an authenticator" in capsys.readouterr().out
    event = StaffAuditEvent.objects.get(action=StaffAuditAction.TWO_FACTOR_RESET)
    assert event.actor is None and event.email == staff.email and event.details["channel"] == "command"

    with pytest.raises(CommandError, match="No staff account"):
        call_command("reset_staff_2fa", "nobody@caly.example")


# --- the staff audit log --------------------------------------------------------------------------


def test_staff_read_the_audit_log_and_cannot_change_it(verified_staff, staff):  # noqa: F811
    event = StaffAuditEvent.objects.filter(action=StaffAuditAction.TWO_FACTOR_VERIFIED).get()
    listing = verified_staff.get("/admin/accounts/staffauditevent/?action__exact=2fa.verified&q=staff%40caly")
    assert listing.status_code == 200 and b"Code accepted" in listing.content
    page = verified_staff.get(f"/admin/accounts/staffauditevent/{event.pk}/change/")
    assert page.status_code == 200 and b"staff@caly.example" in page.content and b'name="_save"' not in page.content

    assert verified_staff.get("/admin/accounts/staffauditevent/add/").status_code == 403
    response = verified_staff.post(f"/admin/accounts/staffauditevent/{event.pk}/change/", {"action": "2fa.reset"})
    assert response.status_code == 403
    assert (
        verified_staff.post(f"/admin/accounts/staffauditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    verified_staff.post(  # the list offers no actions, deletion least of all
        "/admin/accounts/staffauditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert StaffAuditEvent.objects.filter(pk=event.pk, action=StaffAuditAction.TWO_FACTOR_VERIFIED).exists()


def test_groups_and_disconnecting_a_clients_store_need_a_fresh_code(verified_staff, client_a):  # noqa: F811
    store = ShopifyConnectionFactory(client=client_a)
    with later(16):
        group = verified_staff.post("/admin/auth/group/add/", {"name": "Everything", "permissions": []})
        disconnect = verified_staff.post(
            "/admin/integrations/shopifyconnection/", {"action": "disconnect", "_selected_action": [store.pk]}
        )
        delete = verified_staff.post(f"/admin/integrations/shopifyconnection/{store.pk}/delete/", {"post": "yes"})
    for response in (group, disconnect, delete):
        assert response.status_code == 302 and response["Location"].startswith("/admin/2fa/verify/")
    assert not Group.objects.exists()
    store.refresh_from_db()
    assert store.access_token and store.verified_at is not None
