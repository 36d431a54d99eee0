"""The staff admin: who may enter, what each page offers, and that its actions end sign-ins and are audited."""

import hashlib
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts import jwt
from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, Client, Invitation, RefreshFamily
from accounts.roles import Role
from caly.foundation import context
from tests.factories import PASSWORD, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(alice):
    return Invitation.objects.create(
        client=alice.client,
        email="dana@acme.example",
        role=Role.VIEWER,
        invited_by=alice,
        token_sha256=hashlib.sha256(b"invitation-token").hexdigest(),
        expires_at=timezone.now() + timedelta(days=7),
    )


@pytest.fixture
def event(alice):
    return audit_record(
        action=AuditAction.CLIENT_SETTINGS_CHANGED,
        client=alice.client,
        actor=alice,
        target=alice.client,
        metadata={"name": {"old": "Acme", "new": "Acme <Apparel>"}, "note": "₹ refunds"},
    )


@pytest.fixture
def pages(alice, invitation, event):
    family = RefreshFamily.objects.get(pk=jwt.family_start(user=alice).family_id)
    return [
        "/admin/",
        "/admin/accounts/client/",
        "/admin/accounts/client/add/",
        f"/admin/accounts/client/{alice.client_id}/change/",
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        f"/admin/accounts/user/{alice.pk}/change/",
        "/admin/accounts/auditevent/",
        f"/admin/accounts/auditevent/{event.pk}/change/",
        "/admin/accounts/refreshfamily/",
        f"/admin/accounts/refreshfamily/{family.pk}/change/",
        "/admin/accounts/invitation/",
        f"/admin/accounts/invitation/{invitation.pk}/change/",
    ]


def me(api, access):
    return api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def run_action(client, model, action, *pks):
    return client.post(
        f"/admin/accounts/{model}/", {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True
    )


def flash(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


class _FormData(HTMLParser):
    """What a browser submits from one form of a page: enabled inputs, checked boxes, selected options."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.select, self.textarea = form_id, False, None, None
        self.pairs: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside or "disabled" in attrs:
            return
        elif tag == "input" and "name" in attrs:
            kind = attrs.get("type", "text")
            if (kind in ("checkbox", "radio") and "checked" not in attrs) or kind in ("submit", "button", "file"):
                return
            self.pairs.append([attrs["name"], attrs.get("value") or ("on" if kind == "checkbox" else "")])
        elif tag == "select":
            self.select = attrs["name"]
        elif tag == "option" and self.select and "selected" in attrs:
            self.pairs.append([self.select, attrs.get("value", "")])
        elif tag == "textarea":
            self.textarea = True
            self.pairs.append([attrs["name"], ""])

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.pairs[-1][1] += data


def change_form(client, model, pk) -> dict[str, list[str]]:
    response = client.get(f"/admin/accounts/{model}/{pk}/change/")
    assert response.status_code == 200
    parser = _FormData(f"{model}_form")
    parser.feed(response.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in parser.pairs:
        data.setdefault(name, []).append(value)
    return data


# --- who may enter ------------------------------------------------------------------------------


def test_it_opens_every_admin_page_for_staff(client, staff, pages):
    client.force_login(staff)
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_it_sends_anonymous_visitors_to_the_login_page(client, pages):
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.url.startswith("/admin/login/?next=/admin/"), page


def test_it_keeps_client_users_out_of_the_admin(client, alice, pages):
    response = client.post("/admin/login/", {"username": alice.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 200 and b"staff account" in response.content
    client.force_login(alice)
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), page


@pytest.mark.parametrize(
    "query",
    [
        "accounts/client/?is_active__exact=0",
        "accounts/client/?onboarding_step__exact=company",
        "accounts/client/?timezone=Asia%2FKolkata",
        "accounts/user/?role__exact=owner&is_active__exact=1&is_staff__exact=0",
        "accounts/auditevent/?action__exact=client.settings_changed",
        "accounts/refreshfamily/?revoked=no&expired=no",
        "accounts/refreshfamily/?revoked=yes&expired=yes",
        "accounts/invitation/?status=pending&role__exact=viewer",
        "accounts/invitation/?status=expired",
    ],
)
def test_it_answers_every_filter(client, staff, pages, query):
    client.force_login(staff)
    assert client.get(f"/admin/{query}").status_code == 200  # an unknown filter redirects to ?e=1


def test_it_filters_sign_ins_by_revoked_and_expired(client, staff, alice, bob):
    live = jwt.family_start(user=alice).family_id
    revoked = jwt.family_start(user=bob).family_id
    jwt.family_revoke(family_id=revoked, reason="logout")
    expired = jwt.family_start(user=alice).family_id
    RefreshFamily.objects.filter(pk=expired).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(staff)

    def listed(query):
        return {row.pk for row in client.get(f"/admin/accounts/refreshfamily/?{query}").context["cl"].result_list}

    assert listed("revoked=yes") == {revoked}
    assert listed("revoked=no") == {live, expired}
    assert listed("expired=yes") == {expired}
    assert listed("expired=no&revoked=no") == {live}


def test_it_finds_clients_by_public_id_and_users_by_name(client, staff, alice, charlie):
    client.force_login(staff)
    response = client.get("/admin/accounts/client/", {"q": str(alice.client.public_id)})
    assert list(response.context["cl"].result_list) == [alice.client]
    response = client.get("/admin/accounts/user/", {"q": "Charlie"})
    assert list(response.context["cl"].result_list) == [charlie]


# --- clients ------------------------------------------------------------------------------------


def test_it_deactivates_selected_clients_and_ends_their_users_tokens(client, api, staff, alice, bob, charlie):
    pairs = [jwt.family_start(user=alice), jwt.family_start(user=alice), jwt.family_start(user=bob)]
    outsider = jwt.family_start(user=charlie)
    assert {me(api, pair.access) for pair in pairs} == {200}
    client.force_login(staff)

    response = run_action(client, "client", "deactivate_clients", alice.client_id)

    assert flash(response) == ["Deactivated 1 client; ended 3 sign-ins."]
    assert not Client.objects.get(pk=alice.client_id).is_active
    assert {me(api, pair.access) for pair in pairs} == {401}
    assert me(api, outsider.access) == 200
    families = RefreshFamily.objects.filter(user__client=alice.client)
    assert {family.revoked_reason for family in families} == {"client_deactivated"}
    [event] = AuditEvent.objects.filter(action=AuditAction.CLIENT_DEACTIVATED)
    assert (event.client, event.actor, event.target_id) == (alice.client, staff, str(alice.client.public_id))
    assert event.metadata == {"sign_ins_ended": 3} and event.request_id

    response = run_action(client, "client", "deactivate_clients", alice.client_id, charlie.client_id)

    assert flash(response) == ["Deactivated 1 client; ended 1 sign-in. 1 was already inactive."]
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_DEACTIVATED).count() == 2


def test_it_activates_selected_clients_and_audits_it(client, api, staff, alice, client_b):
    Client.objects.filter(pk__in=[alice.client_id, client_b.pk]).update(is_active=False)
    client.force_login(staff)

    response = run_action(client, "client", "activate_clients", alice.client_id, client_b.pk)

    assert flash(response) == ["Activated 2 clients."]
    assert Client.objects.filter(is_active=True).count() == 2
    events = AuditEvent.objects.filter(action=AuditAction.CLIENT_ACTIVATED, actor=staff)
    assert {event.client for event in events} == {alice.client, client_b}
    assert me(api, jwt.family_start(user=alice).access) == 200
    response = run_action(client, "client", "activate_clients", alice.client_id)
    assert flash(response) == ["Activated 0 clients. 1 was already active."]


def test_it_deactivates_a_client_from_its_change_form_like_the_action(client, api, staff, alice):
    pair = jwt.family_start(user=alice)
    client.force_login(staff)
    data = change_form(client, "client", alice.client_id)
    assert data["users-TOTAL_FORMS"] == ["1"]
    del data["is_active"]

    response = client.post(f"/admin/accounts/client/{alice.client_id}/change/", {**data, "_save": "Save"})

    assert response.status_code == 302
    assert not Client.objects.get(pk=alice.client_id).is_active
    assert me(api, pair.access) == 401
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_DEACTIVATED, actor=staff).count() == 1


def test_it_shows_a_clients_users_read_only(client, staff, alice, bob):
    client.force_login(staff)
    response = client.get(f"/admin/accounts/client/{alice.client_id}/change/")
    [users] = response.context["inline_admin_formsets"]
    assert not users.has_add_permission and not users.has_delete_permission
    assert b"alice@acme.example" in response.content and b"bob@acme.example" in response.content
    assert b'name="users-0-email"' not in response.content


# --- users --------------------------------------------------------------------------------------


def test_it_ends_a_users_tokens_when_staff_deactivate_them(client, api, staff, alice, bob):
    pair, other = jwt.family_start(user=bob), jwt.family_start(user=alice)
    client.force_login(staff)
    data = change_form(client, "user", bob.pk)
    del data["is_active"]

    response = client.post(f"/admin/accounts/user/{bob.pk}/change/", {**data, "_save": "Save"})

    assert response.status_code == 302
    bob.refresh_from_db()
    assert not bob.is_active and bob.token_version == 1
    assert me(api, pair.access) == 401 and me(api, other.access) == 200
    assert RefreshFamily.objects.get(pk=pair.family_id).revoked_reason == "deactivated_by_staff"
    [event] = AuditEvent.objects.filter(action=AuditAction.USER_DEACTIVATED)
    assert (event.client, event.actor, event.target_id) == (alice.client, staff, str(bob.public_id))


def test_it_audits_role_changes_made_by_staff(client, staff, bob):
    client.force_login(staff)
    data = change_form(client, "user", bob.pk)
    data["role"] = [Role.ADMIN]

    response = client.post(f"/admin/accounts/user/{bob.pk}/change/", {**data, "_save": "Save"})

    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action=AuditAction.USER_ROLE_CHANGED)
    assert event.actor == staff and event.metadata == {"old": "agent", "new": "admin"}
    assert not AuditEvent.objects.filter(action=AuditAction.USER_DEACTIVATED).exists()


def test_it_shows_user_ids_and_verification_read_only(client, staff, alice):
    client.force_login(staff)
    response = client.get(f"/admin/accounts/user/{alice.pk}/change/")
    form = response.context["adminform"].form
    assert {"public_id", "email_verified_at", "token_version"}.isdisjoint(form.fields)
    assert "role" in form.fields and str(alice.public_id) in response.content.decode()


# --- audit events -------------------------------------------------------------------------------


def test_it_offers_no_way_to_add_change_or_delete_audit_events(client, staff, event):
    client.force_login(staff)
    base = "/admin/accounts/auditevent/"

    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{event.pk}/change/", {"action": "logout"}).status_code == 403
    assert client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = client.get(base)
    assert response.context["action_form"] is None and b"delete_selected" not in response.content
    client.post(base, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})

    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.CLIENT_SETTINGS_CHANGED


def test_it_refuses_to_update_or_delete_audit_events_in_the_orm(event):
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action=AuditAction.LOGOUT)
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.action = AuditAction.LOGOUT
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.CLIENT_SETTINGS_CHANGED


def test_it_shows_audit_metadata_pretty_printed(client, staff, event):
    client.force_login(staff)
    response = client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    content = response.content.decode()
    assert "<pre>{\n  &quot;name&quot;: {\n    &quot;new&quot;: &quot;Acme &lt;Apparel&gt;&quot;" in content
    assert "₹ refunds" in content and "<Apparel>" not in content


def test_it_finds_audit_events_by_request_target_and_actor(client, staff, alice, bob, event):
    token = context.activate(context.RequestContext(request_id="req-from-a-support-ticket"))
    try:
        logged = audit_record(action=AuditAction.LOGOUT, client=bob.client, actor=bob, target=bob)
    finally:
        context.deactivate(token)
    client.force_login(staff)

    def found(term):
        return list(client.get("/admin/accounts/auditevent/", {"q": term}).context["cl"].result_list)

    assert found("req-from-a-support-ticket") == [logged]
    assert found(str(bob.public_id)) == [logged]
    assert found("alice@") == [event]
    assert found("nobody") == []


# --- sign-ins -----------------------------------------------------------------------------------


def test_it_revokes_selected_sign_ins_and_their_access_tokens_stop_working(client, api, staff, alice, bob):
    first, second, kept = jwt.family_start(user=alice), jwt.family_start(user=bob), jwt.family_start(user=alice)
    client.force_login(staff)

    response = run_action(client, "refreshfamily", "revoke_families", first.family_id, second.family_id)

    assert flash(response) == ["Revoked 2 sign-ins."]
    assert me(api, first.access) == 401 and me(api, second.access) == 401 and me(api, kept.access) == 200
    revoked = RefreshFamily.objects.filter(pk__in=[first.family_id, second.family_id])
    assert {(family.revoked_reason, family.revoked_at is not None) for family in revoked} == {
        ("revoked_by_staff", True)
    }
    events = AuditEvent.objects.filter(action=AuditAction.FAMILY_REVOKED)
    assert {(e.actor, e.client, e.target_id) for e in events} == {
        (staff, alice.client, str(first.family_id)),
        (staff, alice.client, str(second.family_id)),
    }

    response = run_action(client, "refreshfamily", "revoke_families", first.family_id)

    assert flash(response) == ["Revoked 0 sign-ins. 1 had already been revoked."]
    assert AuditEvent.objects.filter(action=AuditAction.FAMILY_REVOKED).count() == 2


def test_it_keeps_sign_ins_read_only(client, staff, alice):
    family_id = jwt.family_start(user=alice).family_id
    client.force_login(staff)
    base = "/admin/accounts/refreshfamily/"
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{family_id}/delete/", {"post": "yes"}).status_code == 403
    response = client.get(f"{base}{family_id}/change/")
    assert b"current_jti" not in response.content
    actions = [value for value, _ in client.get(base).context["action_form"].fields["action"].choices]
    assert "revoke_families" in actions and "delete_selected" not in actions
    assert RefreshFamily.objects.filter(pk=family_id).exists()


# --- invitations --------------------------------------------------------------------------------


def test_it_shows_invitations_without_their_token_hash_in_the_list(client, staff, invitation):
    client.force_login(staff)
    response = client.get("/admin/accounts/invitation/", {"q": "dana@"})
    assert list(response.context["cl"].result_list) == [invitation]
    assert invitation.token_sha256.encode() not in response.content and b"pending" in response.content
    response = client.get(f"/admin/accounts/invitation/{invitation.pk}/change/")
    assert invitation.token_sha256.encode() in response.content
    assert "token_sha256" not in response.context["adminform"].form.fields
    assert client.get("/admin/accounts/invitation/add/").status_code == 403


def test_it_lets_view_only_staff_look_at_sign_ins_but_not_revoke_them(client, alice):
    viewer = StaffFactory(email="support@caly.example")
    viewer.user_permissions.add(Permission.objects.get(codename="view_refreshfamily"))
    family_id = jwt.family_start(user=alice).family_id
    client.force_login(viewer)

    response = client.get("/admin/accounts/refreshfamily/")
    assert response.status_code == 200 and response.context["action_form"] is None
    run_action(client, "refreshfamily", "revoke_families", family_id)

    assert RefreshFamily.objects.get(pk=family_id).revoked_at is None


def test_it_ends_sign_ins_when_staff_set_a_new_password(client, staff, bob):
    from accounts import jwt as account_jwt
    from accounts.models import AuditAction, AuditEvent

    pair = account_jwt.family_start(user=bob)
    client.force_login(staff)
    response = client.post(
        f"/admin/accounts/user/{bob.pk}/password/",
        {"password1": "staff-chosen-pass-77", "password2": "staff-chosen-pass-77", "usable_password": "true"},
    )
    assert response.status_code == 302
    api = client.__class__()
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {pair.access}").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED, actor=staff).exists()
