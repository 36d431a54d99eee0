"""Tags on the pages: tagging from a call's page (agents and up), and the calls list's Tag filter."""

import pytest
from django.test import Client as PageClient

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from recordings import tags
from recordings.models import CallTag
from tests.factories import CallFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page():
    def _as(user):
        browser = PageClient()
        browser.force_login(user)
        return browser

    return _as


@pytest.fixture
def refund(client_a):
    return TagFactory(client=client_a, name="refund", colour="red")


@pytest.fixture
def delivery(client_a):
    return TagFactory(client=client_a, name="delivery", colour="blue")


def test_an_agent_adds_and_removes_a_tag_from_the_call_page(page, bob, refund, delivery):
    call = CallFactory(client=bob.client)
    browser = page(bob)
    html = browser.get(f"/calls/{call.public_id}/").content.decode()
    assert "Add a tag…" in html and "No tags." in html
    response = browser.post(f"/calls/{call.public_id}/tags/", {"add": str(refund.public_id)})
    assert response.status_code == 302 and response["Location"] == f"/calls/{call.public_id}/#tags"
    html = browser.get(f"/calls/{call.public_id}/").content.decode()
    assert 'data-tag="refund"' in html and "Tag “refund” added." in html
    assert f'<option value="{refund.public_id}">' not in html and f'<option value="{delivery.public_id}">' in html
    browser.post(f"/calls/{call.public_id}/tags/", {"remove": str(refund.public_id)})
    assert not CallTag.objects.exists()
    events = AuditEvent.objects.filter(action=AuditAction.CALL_TAGS_CHANGED).order_by("pk")
    assert [event.metadata for event in events] == [
        {"added": ["refund"], "removed": []},
        {"added": [], "removed": ["refund"]},
    ]


def test_a_viewer_sees_the_tags_but_cannot_change_them(page, client_a, alice, refund):
    viewer = UserFactory(email="vic@acme.example", client=client_a, role=Role.VIEWER)
    call = CallFactory(client=client_a)
    tags.call_tags_set(call=call, actor=alice, tags=[refund])
    browser = page(viewer)
    html = browser.get(f"/calls/{call.public_id}/").content.decode()
    assert 'data-tag="refund"' in html and "Add a tag" not in html and "Remove the tag" not in html
    assert browser.post(f"/calls/{call.public_id}/tags/", {"remove": str(refund.public_id)}).status_code == 403
    assert CallTag.objects.count() == 1


@pytest.mark.parametrize("value", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 10_000])
def test_a_bad_tag_on_the_call_page_is_a_form_error(page, bob, value):
    call = CallFactory(client=bob.client)
    response = page(bob).post(f"/calls/{call.public_id}/tags/", {"add": value})
    assert response.status_code == 400
    assert response.context["tag_errors"]
    assert not CallTag.objects.exists() and not AuditEvent.objects.exists()


def test_another_companys_tag_on_the_call_page_is_refused(page, bob, client_b):
    foreign = TagFactory(client=client_b, name="theirs")
    call = CallFactory(client=bob.client)
    response = page(bob).post(f"/calls/{call.public_id}/tags/", {"add": str(foreign.public_id)})
    assert response.status_code == 400
    assert "No tag of yours" in response.content.decode()
    assert not CallTag.objects.exists()


def test_another_companys_call_is_not_found(page, charlie, refund):
    call = CallFactory(client=refund.client)
    own = TagFactory(client=charlie.client, name="mine")
    assert page(charlie).post(f"/calls/{call.public_id}/tags/", {"add": str(own.public_id)}).status_code == 404
    assert not CallTag.objects.exists()


def test_the_calls_list_filters_by_tag(page, bob, alice, refund, delivery):
    calls = CallFactory.create_batch(3, client=bob.client)
    tags.call_tags_set(call=calls[0], actor=alice, tags=[refund])
    tags.call_tags_set(call=calls[1], actor=alice, tags=[delivery])
    browser = page(bob)
    html = browser.get("/calls/").content.decode()
    assert '<select name="tag"' in html and f'<option value="{refund.public_id}">refund</option>' in html
    response = browser.get("/calls/", {"tag": str(refund.public_id)})
    shown = {str(row["public_id"]) for row in response.context["rows"]}
    assert shown == {str(calls[0].public_id)}
    assert f'<option value="{refund.public_id}" selected>refund</option>' in response.content.decode()
    response = browser.get("/calls/", {"tag": "refund,delivery"})
    assert {str(row["public_id"]) for row in response.context["rows"]} == {str(c.public_id) for c in calls[:2]}
    assert "selected>refund,delivery</option>" in response.content.decode()


def test_a_malformed_tag_filter_is_a_form_error(page, bob):
    response = page(bob).get("/calls/", {"tag": "a,,b"})
    assert response.status_code == 400 and response.context["form"].errors["tag"]
