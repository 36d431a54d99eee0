"""Tags over the API: the client's list (admins and owners manage it), a call's tags (agents and up), the
tag= filter of the calls list and the export's Tags column, the audit log, and bad input changing nothing."""

import csv
import io

import pytest

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from caly.foundation.errors import DomainError
from recordings import demo, tags
from recordings.models import Call, CallTag, Tag
from tests.factories import CallFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


@pytest.fixture
def admin_a(client_a):
    return UserFactory(email="ada@acme.example", client=client_a, role=Role.ADMIN)


@pytest.fixture
def viewer_a(client_a):
    return UserFactory(email="vic@acme.example", client=client_a, role=Role.VIEWER)


@pytest.fixture
def refund(client_a):
    return TagFactory(client=client_a, name="refund", colour="red")


@pytest.fixture
def delivery(client_a):
    return TagFactory(client=client_a, name="delivery", colour="blue")


@pytest.fixture
def foreign_tag(client_b):
    return TagFactory(client=client_b, name="refund")


def tags_state(client):
    return (
        list(Tag.objects.filter(client=client).order_by("pk").values()),
        sorted(CallTag.objects.filter(tag__client=client).values_list("call_id", "tag_id")),
    )


def audit(action):
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- the list --------------------------------------------------------------------------------------


def test_it_creates_a_tag_trimmed_and_audited(as_user, alice):
    response = as_user(alice).post("/api/v1/tags", {"name": "  Late   delivery ", "colour": "orange"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["name"] == "Late delivery" and data["colour"] == "orange"
    tag = Tag.objects.get(public_id=data["id"])
    assert tag.client == alice.client
    [event] = audit(AuditAction.TAG_CREATED)
    assert event.actor == alice and event.target_id == data["id"] and event.metadata == {"name": "Late delivery"}


def test_it_lists_only_the_callers_tags_by_name(as_user, bob, refund, delivery, foreign_tag):
    response = as_user(bob).get("/api/v1/tags")
    assert response.status_code == 200
    body = response.json()
    assert [row["name"] for row in body["data"]] == ["delivery", "refund"]
    assert str(foreign_tag.public_id) not in response.content.decode()
    assert body["meta"]["pagination"]["total"] == 2


def test_it_refuses_a_name_taken_in_another_case(as_user, alice, refund):
    before = tags_state(alice.client)
    response = as_user(alice).post("/api/v1/tags", {"name": "REFUND"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "already a tag" in error["details"]["name"][0]
    assert tags_state(alice.client) == before


def test_the_same_name_is_fine_in_another_company(as_user, charlie, refund):
    response = as_user(charlie).post("/api/v1/tags", {"name": "Refund"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 10_000},
        {"name": "x" * 41},
        {"name": "   "},
        {"name": ""},
        {"name": "refund, delivery"},
        {"name": "bell\x07"},
        {"name": 12},
        {"name": "ok", "colour": "chartreuse"},
        {},
    ],
    ids=["10000 chars", "41 chars", "blank", "empty", "comma", "control char", "number", "colour", "nothing"],
)
def test_a_bad_tag_is_a_400_and_nothing_is_stored(as_user, alice, body):
    response = as_user(alice).post("/api/v1/tags", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not Tag.objects.exists() and not audit(AuditAction.TAG_CREATED)


def test_the_service_refuses_a_long_name_too(alice):
    with pytest.raises(DomainError) as raised:
        tags.tag_create(client=alice.client, actor=alice, name="y" * 10_000)
    assert "at most 40" in raised.value.details["name"][0].lower()
    assert not Tag.objects.exists()


def test_a_company_has_at_most_the_maximum_of_tags(as_user, alice, monkeypatch):
    monkeypatch.setattr(tags, "TAGS_PER_CLIENT_MAX", 2)
    for name in ("one", "two"):
        assert as_user(alice).post("/api/v1/tags", {"name": name}, format="json").status_code == 201
    response = as_user(alice).post("/api/v1/tags", {"name": "three"}, format="json")
    assert response.status_code == 400 and "at most 2" in response.json()["error"]["details"]["name"][0]
    assert Tag.objects.count() == 2


def test_it_renames_and_recolours_a_tag_audited_with_old_and_new(as_user, admin_a, refund):
    response = as_user(admin_a).patch(
        f"/api/v1/tags/{refund.public_id}", {"name": "Refunds", "colour": "green"}, format="json"
    )
    assert response.status_code == 200
    refund.refresh_from_db()
    assert (refund.name, refund.colour) == ("Refunds", "green")
    [event] = audit(AuditAction.TAG_UPDATED)
    assert event.metadata == {"name": {"old": "refund", "new": "Refunds"}, "colour": {"old": "red", "new": "green"}}


def test_renaming_to_the_same_name_changes_and_logs_nothing(as_user, alice, refund):
    response = as_user(alice).patch(f"/api/v1/tags/{refund.public_id}", {"name": " refund "}, format="json")
    assert response.status_code == 200 and not audit(AuditAction.TAG_UPDATED)


def test_renaming_onto_another_tag_is_refused(as_user, alice, refund, delivery):
    response = as_user(alice).patch(f"/api/v1/tags/{refund.public_id}", {"name": "Delivery"}, format="json")
    assert response.status_code == 400
    refund.refresh_from_db()
    assert refund.name == "refund"


def test_deleting_a_tag_takes_it_off_its_calls_and_says_how_many(as_user, alice, refund, delivery):
    calls = CallFactory.create_batch(3, client=alice.client)
    tags.call_tags_set(call=calls[0], actor=alice, tags=[refund, delivery])
    tags.call_tags_set(call=calls[1], actor=alice, tags=[refund])
    response = as_user(alice).delete(f"/api/v1/tags/{refund.public_id}")
    assert response.status_code == 204
    assert not Tag.objects.filter(pk=refund.pk).exists()
    assert list(CallTag.objects.values_list("call_id", "tag_id")) == [(calls[0].pk, delivery.pk)]
    assert Call.objects.count() == 3
    [event] = audit(AuditAction.TAG_DELETED)
    assert event.metadata == {"name": "refund", "calls": 2} and event.target_id == str(refund.public_id)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_change_the_list(as_user, client_a, refund, role):
    user = UserFactory(email=f"{role}@acme.example", client=client_a, role=role)
    before = tags_state(client_a)
    api = as_user(user)
    assert api.get("/api/v1/tags").status_code == 200
    assert api.get(f"/api/v1/tags/{refund.public_id}").status_code == 200
    for response in (
        api.post("/api/v1/tags", {"name": "new"}, format="json"),
        api.patch(f"/api/v1/tags/{refund.public_id}", {"name": "renamed"}, format="json"),
        api.delete(f"/api/v1/tags/{refund.public_id}"),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert tags_state(client_a) == before


def test_another_companys_tag_is_not_found(as_user, alice, foreign_tag):
    before = tags_state(foreign_tag.client)
    api = as_user(alice)
    for response in (
        api.get(f"/api/v1/tags/{foreign_tag.public_id}"),
        api.patch(f"/api/v1/tags/{foreign_tag.public_id}", {"name": "mine"}, format="json"),
        api.delete(f"/api/v1/tags/{foreign_tag.public_id}"),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    assert tags_state(foreign_tag.client) == before


# --- a call's tags -----------------------------------------------------------------------------------


def test_an_agent_adds_and_removes_tags_and_each_change_is_audited(as_user, bob, refund, delivery):
    call = CallFactory(client=bob.client)
    api = as_user(bob)
    url = f"/api/v1/calls/{call.public_id}/tags"
    response = api.patch(url, {"add": [str(refund.public_id), str(delivery.public_id)]}, format="json")
    assert response.status_code == 200, response.content
    assert [tag["name"] for tag in response.json()["data"]["tags"]] == ["delivery", "refund"]
    response = api.patch(url, {"add": [str(refund.public_id)], "remove": [str(delivery.public_id)]}, format="json")
    assert [tag["name"] for tag in response.json()["data"]["tags"]] == ["refund"]
    events = audit(AuditAction.CALL_TAGS_CHANGED)
    assert [event.metadata for event in events] == [
        {"added": ["delivery", "refund"], "removed": []},
        {"added": [], "removed": ["delivery"]},
    ]
    assert all(event.actor == bob and event.target_id == str(call.public_id) for event in events)
    detail = api.get(f"/api/v1/calls/{call.public_id}").json()["data"]
    assert detail["tags"] == [{"id": str(refund.public_id), "name": "refund", "colour": "red"}]


def test_put_sets_exactly_the_given_tags(as_user, bob, refund, delivery):
    call = CallFactory(client=bob.client)
    tags.call_tags_set(call=call, actor=bob, tags=[refund])
    url = f"/api/v1/calls/{call.public_id}/tags"
    response = as_user(bob).put(url, {"tags": [str(delivery.public_id)]}, format="json")
    assert [tag["name"] for tag in response.json()["data"]["tags"]] == ["delivery"]
    assert as_user(bob).put(url, {"tags": []}, format="json").json()["data"]["tags"] == []
    assert not CallTag.objects.exists()
    assert as_user(bob).get(url).json()["data"]["tags"] == []


def test_setting_the_same_tags_again_logs_nothing(as_user, bob, refund):
    call = CallFactory(client=bob.client)
    url = f"/api/v1/calls/{call.public_id}/tags"
    as_user(bob).put(url, {"tags": [str(refund.public_id)]}, format="json")
    as_user(bob).put(url, {"tags": [str(refund.public_id)]}, format="json")
    as_user(bob).patch(url, {"add": [str(refund.public_id)]}, format="json")
    assert len(audit(AuditAction.CALL_TAGS_CHANGED)) == 1


def test_a_viewer_reads_but_cannot_tag(as_user, viewer_a, refund):
    call = CallFactory(client=viewer_a.client)
    url = f"/api/v1/calls/{call.public_id}/tags"
    assert as_user(viewer_a).get(url).status_code == 200
    assert as_user(viewer_a).put(url, {"tags": [str(refund.public_id)]}, format="json").status_code == 403
    assert as_user(viewer_a).patch(url, {"add": [str(refund.public_id)]}, format="json").status_code == 403
    assert not CallTag.objects.exists()


def test_another_companys_tag_on_ones_own_call_is_a_400_and_nothing_is_stored(as_user, alice, refund, foreign_tag):
    call = CallFactory(client=alice.client)
    tags.call_tags_set(call=call, actor=alice, tags=[refund])
    before = tags_state(alice.client), tags_state(foreign_tag.client)
    url = f"/api/v1/calls/{call.public_id}/tags"
    for method, body, field in (
        ("put", {"tags": [str(foreign_tag.public_id)]}, "tags"),
        ("patch", {"add": [str(foreign_tag.public_id)]}, "add"),
        ("patch", {"remove": [str(refund.public_id), str(foreign_tag.public_id)]}, "remove"),
    ):
        response = getattr(as_user(alice), method)(url, body, format="json")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and "No tag of yours" in error["details"][field][0]
    assert (tags_state(alice.client), tags_state(foreign_tag.client)) == before
    assert len(audit(AuditAction.CALL_TAGS_CHANGED)) == 1  # the set above only


def test_another_companys_call_is_not_found(as_user, charlie, refund):
    call = CallFactory(client=refund.client)
    own = TagFactory(client=charlie.client, name="mine")
    url = f"/api/v1/calls/{call.public_id}/tags"
    for response in (
        as_user(charlie).get(url),
        as_user(charlie).put(url, {"tags": [str(own.public_id)]}, format="json"),
        as_user(charlie).patch(url, {"add": [str(refund.public_id)]}, format="json"),
    ):
        assert response.status_code == 404
    assert not CallTag.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"add": ["not-a-uuid"]},
        {"add": "refund"},
        {"add": [12]},
        {"add": ["00000000-0000-0000-0000-000000000000"]},
        {"add": [], "remove": None},
    ],
    ids=["not a uuid", "not a list", "number", "unknown id", "null"],
)
def test_bad_ids_are_a_400(as_user, bob, body):
    call = CallFactory(client=bob.client)
    response = as_user(bob).patch(f"/api/v1/calls/{call.public_id}/tags", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert not CallTag.objects.exists()


def test_a_tag_both_added_and_removed_is_refused(as_user, bob, refund):
    call = CallFactory(client=bob.client)
    body = {"add": [str(refund.public_id)], "remove": [str(refund.public_id)]}
    response = as_user(bob).patch(f"/api/v1/calls/{call.public_id}/tags", body, format="json")
    assert response.status_code == 400 and not CallTag.objects.exists()


# --- the filter and the export ----------------------------------------------------------------------


@pytest.fixture
def tagged(alice, charlie, refund, delivery, client_b):
    """Five calls of A: 0 refund, 1 delivery, 2 both, 3 and 4 none; and B's call with B's own 'refund'."""
    calls = [CallFactory(client=alice.client) for _ in range(5)]
    tags.call_tags_set(call=calls[0], actor=alice, tags=[refund])
    tags.call_tags_set(call=calls[1], actor=alice, tags=[delivery])
    tags.call_tags_set(call=calls[2], actor=alice, tags=[refund, delivery])
    other = CallFactory(client=client_b)
    tags.call_tags_set(call=other, actor=charlie, tags=[TagFactory(client=client_b, name="refund")])
    return calls


def listed(api, **query) -> set[str]:
    response = api.get("/api/v1/calls", query)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["data"]}


def ids(*calls) -> set[str]:
    return {str(call.public_id) for call in calls}


def test_the_list_filters_by_a_tag_by_id_or_name(as_user, bob, tagged, refund):
    api = as_user(bob)
    assert listed(api, tag=str(refund.public_id)) == ids(tagged[0], tagged[2])
    assert listed(api, tag="REFUND") == ids(tagged[0], tagged[2])
    assert listed(api, tag="delivery") == ids(tagged[1], tagged[2])


def test_several_tags_match_calls_with_any_of_them(as_user, bob, tagged, refund, delivery):
    api = as_user(bob)
    assert listed(api, tag=f"{refund.public_id},delivery") == ids(*tagged[:3])
    response = api.get(f"/api/v1/calls?tag={refund.public_id}&tag={delivery.public_id}")
    assert {row["id"] for row in response.json()["data"]} == ids(*tagged[:3])


def test_a_tag_that_is_not_the_callers_matches_nothing(as_user, charlie, bob, tagged, refund):
    assert listed(as_user(charlie), tag=str(refund.public_id)) == set()
    assert listed(as_user(bob), tag="no such tag") == set()
    assert listed(as_user(bob), tag="00000000-0000-0000-0000-000000000000") == set()


@pytest.mark.parametrize("value", ["", ",", "refund,,delivery", "x" * 41, ",".join(["a"] * 21), "y" * 3000])
def test_a_malformed_tag_filter_is_a_400(as_user, bob, value):
    response = as_user(bob).get("/api/v1/calls", {"tag": value})
    assert response.status_code == 400 and "tag" in response.json()["error"]["details"]


def test_the_export_has_a_tags_column_and_honours_the_filter(as_user, alice, tagged):
    response = as_user(alice).get("/api/v1/calls/export", {"tag": "refund"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0])[-2:] == ["tags", "notes"]
    assert {row["id"]: row["tags"] for row in rows} == {
        str(tagged[0].public_id): "refund",
        str(tagged[2].public_id): "delivery; refund",
    }
    [event] = audit(AuditAction.CALLS_EXPORTED)
    assert event.metadata["tag"] == "['refund']"


def test_the_unfiltered_export_leaves_untagged_calls_blank(as_user, alice, tagged):
    response = as_user(alice).get("/api/v1/calls/export")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 5
    assert sorted(row["tags"] for row in rows) == ["", "", "delivery", "delivery; refund", "refund"]


# --- demo data ----------------------------------------------------------------------------------------


def test_the_demo_tags_go_on_the_demo_calls_their_notes_speak_of_once(client_a):
    demo.calls_seed(client=client_a, count=300)
    made, tagged = demo.tags_seed(client=client_a)
    assert made == len(demo.DEMO_TAGS) and tagged > 20
    refund = Tag.objects.get(client=client_a, name="refund")
    refunded = Call.objects.filter(call_tags__tag=refund)
    assert refunded.exists() and all("Refund" in call.notes for call in refunded)
    for tag in Tag.objects.filter(client=client_a):
        tag.full_clean()
    assert demo.tags_seed(client=client_a) == (0, 0)
    assert CallTag.objects.count() == tagged
