"""Tags: a client's own list of reasons its calls are marked with (refund, delivery, exchange…), and the tags
on each call.

Writes (`tag_create`, `tag_update`, `tag_delete`, `call_tags_set`, `call_tags_change`) are keyword-only, run
in a transaction, validate and write the audit log; they raise DomainError. Reads (`tag_list`, `tag_usage`,
`call_tag_list`, `tag_names_by_call`, `tag_filter_ids`) are for one client. A tag of another client is
never found: to a write naming it, it is an unknown id (400), and the call list filtered by it is empty.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.foundation.errors import DomainError, ErrorCode
from recordings.models import TAG_NAME_MAX_LENGTH, Call, CallTag, Tag, TagColour

# A list people pick from on a call's page: long enough for every reason, short enough to read.
TAGS_PER_CLIENT_MAX = 100
# What one filter may name (`tag=a,b,c`): calls with any of them.
TAG_FILTER_MAX = 20


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={field: [message]})


def tag_name_clean(name: str) -> str:
    """The name as stored: trimmed, inner runs of spaces made one; raises DomainError when it cannot be a name."""
    if not isinstance(name, str):
        raise _invalid("name", "Enter the tag's name.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise _invalid("name", "Enter the tag's name.")
    if len(cleaned) > TAG_NAME_MAX_LENGTH:
        raise _invalid("name", f"At most {TAG_NAME_MAX_LENGTH} characters (this one has {len(cleaned):,}).")
    if not cleaned.isprintable():
        raise _invalid("name", "Use letters, digits, spaces and punctuation only.")
    if "," in cleaned:
        # `tag=refund,delivery` filters by several tags, so a comma cannot be part of a name.
        raise _invalid("name", "A tag's name cannot contain a comma.")
    return cleaned


def _colour_clean(colour: str) -> str:
    if colour not in TagColour.values:
        raise _invalid("colour", f"Choose one of: {', '.join(TagColour.values)}.")
    return colour


def _save(tag: Tag) -> Tag:
    """Validate (the name's uniqueness too, case-insensitively) and save; a concurrent twin is the same refusal."""
    duplicate = _invalid("name", f"There is already a tag named “{tag.name}”.")
    try:
        tag.full_clean(exclude=["client"])
    except ValidationError as exc:
        details = exc.message_dict
        if "__all__" in details:  # the one table constraint: the name is taken
            raise duplicate from None
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=details) from None
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise duplicate from None
    return tag


@transaction.atomic
def tag_create(*, client: Client, actor: User, name: str, colour: str = TagColour.GREY) -> Tag:
    """Add a tag to the client's list; audited. Raises VALIDATION_ERROR (bad or taken name, full list)."""
    Client.objects.select_for_update().filter(pk=client.pk).first()  # one count at a time per client
    if Tag.objects.for_client(client).count() >= TAGS_PER_CLIENT_MAX:
        raise _invalid("name", f"A company can have at most {TAGS_PER_CLIENT_MAX} tags; delete one first.")
    tag = _save(Tag(client=client, name=tag_name_clean(name), colour=_colour_clean(colour)))
    audit_record(action=AuditAction.TAG_CREATED, client=client, actor=actor, target=tag, metadata={"name": tag.name})
    return tag


@transaction.atomic
def tag_update(*, tag: Tag, actor: User, name: str | None = None, colour: str | None = None) -> Tag:
    """Rename or recolour a tag (the calls keep it); audited with the old and new values."""
    tag = Tag.objects.select_for_update().select_related("client").get(pk=tag.pk)
    wanted = {}
    if name is not None:
        wanted["name"] = tag_name_clean(name)
    if colour is not None:
        wanted["colour"] = _colour_clean(colour)
    changed = {field: {"old": getattr(tag, field), "new": value} for field, value in wanted.items()}
    changed = {field: change for field, change in changed.items() if change["old"] != change["new"]}
    if not changed:
        return tag
    for field, change in changed.items():
        setattr(tag, field, change["new"])
    _save(tag)
    audit_record(action=AuditAction.TAG_UPDATED, client=tag.client, actor=actor, target=tag, metadata=changed)
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: User) -> int:
    """Delete a tag and take it off every call that has it; audited with how many. Returns that number."""
    tag = Tag.objects.select_for_update().select_related("client").get(pk=tag.pk)
    calls = CallTag.objects.filter(tag=tag).count()
    audit_record(
        action=AuditAction.TAG_DELETED,
        client=tag.client,
        actor=actor,
        target=tag,
        metadata={"name": tag.name, "calls": calls},
    )
    CallTag.objects.filter(tag=tag).delete()
    tag.delete()
    return calls


def tags_resolve(*, client: Client, ids: Iterable[uuid.UUID | str], field: str = "tags") -> list[Tag]:
    """The client's tags with these public ids, in the order given; an id that is none of them is a
    VALIDATION_ERROR on `field` (another client's tag is unknown here, and nothing is said of it)."""
    wanted: list[uuid.UUID] = []
    for value in ids:
        try:
            public_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError:
            raise _invalid(field, f"“{str(value)[:60]}” is not a tag id.") from None
        if public_id not in wanted:
            wanted.append(public_id)
    found = {tag.public_id: tag for tag in Tag.objects.for_client(client).filter(public_id__in=wanted)}
    unknown = [str(public_id) for public_id in wanted if public_id not in found]
    if unknown:
        raise _invalid(field, f"No tag of yours has the id {', '.join(unknown)}.")
    return [found[public_id] for public_id in wanted]


def _call_locked(call: Call) -> Call:
    """Serialize tag changes of one call, so two people tagging it at once both count and the log is exact."""
    return Call.objects.select_for_update().select_related("client").get(pk=call.pk)


def _apply(call: Call, actor: User, current: dict[int, Tag], target: dict[int, Tag]) -> list[Tag]:
    added = [tag for pk, tag in target.items() if pk not in current]
    removed = [tag for pk, tag in current.items() if pk not in target]
    if removed:
        CallTag.objects.filter(call=call, tag_id__in=[tag.pk for tag in removed]).delete()
    if added:
        CallTag.objects.bulk_create([CallTag(call=call, tag=tag) for tag in added])
    if added or removed:
        audit_record(
            action=AuditAction.CALL_TAGS_CHANGED,
            client=call.client,
            actor=actor,
            target=call,
            metadata={"added": _names(added), "removed": _names(removed)},
        )
    return call_tag_list(call=call)


def _names(found: list[Tag]) -> list[str]:
    return sorted((tag.name for tag in found), key=str.lower)


def _current(call: Call) -> dict[int, Tag]:
    return {tag.pk: tag for tag in Tag.objects.filter(call_tags__call=call)}


def _same_client(call: Call, tags: Iterable[Tag]) -> None:
    for tag in tags:
        if tag.client_id != call.client_id:  # the callers resolve ids within the call's client; never trust it
            raise _invalid("tags", f"No tag of yours has the id {tag.public_id}.")


@transaction.atomic
def call_tags_set(*, call: Call, actor: User, tags: Iterable[Tag]) -> list[Tag]:
    """Make the call's tags exactly `tags`; audited with what was added and removed. Returns the call's tags."""
    tags = list(tags)
    _same_client(call, tags)
    call = _call_locked(call)
    return _apply(call, actor, _current(call), {tag.pk: tag for tag in tags})


@transaction.atomic
def call_tags_change(*, call: Call, actor: User, add: Iterable[Tag] = (), remove: Iterable[Tag] = ()) -> list[Tag]:
    """Add and remove tags of a call (adding one it has, or removing one it has not, changes nothing);
    audited. A tag both added and removed is a VALIDATION_ERROR. Returns the call's tags."""
    add, remove = list(add), list(remove)
    _same_client(call, [*add, *remove])
    both = {tag.pk for tag in add} & {tag.pk for tag in remove}
    if both:
        raise _invalid("remove", "A tag cannot be added and removed at once.")
    call = _call_locked(call)
    current = _current(call)
    target = {**current, **{tag.pk: tag for tag in add}}
    for tag in remove:
        target.pop(tag.pk, None)
    return _apply(call, actor, current, target)


# --- reads -----------------------------------------------------------------------------------------


def tag_list(*, client: Client) -> QuerySet[Tag]:
    """The client's tags, by name."""
    return Tag.objects.for_client(client).order_by(Lower("name"), "pk")


def tag_usage(*, client: Client) -> dict[int, int]:
    """How many calls have each of the client's tags (tag pk → calls); read from the (tag, call) index."""
    rows = CallTag.objects.filter(tag__client=client).values("tag_id").annotate(calls=Count("call_id"))
    return {row["tag_id"]: row["calls"] for row in rows}


def call_tag_list(*, call: Call) -> list[Tag]:
    """The call's tags, by name."""
    return list(Tag.objects.filter(call_tags__call=call, client_id=call.client_id).order_by(Lower("name"), "pk"))


def tag_names_by_call(*, call_ids: Iterable[int]) -> dict[int, list[str]]:
    """Call pk → its tags' names (sorted), for a page of calls or an export batch: one query."""
    names: dict[int, list[str]] = defaultdict(list)
    rows = CallTag.objects.filter(call_id__in=list(call_ids)).values_list("call_id", "tag__name")
    for call_id, name in rows:
        names[call_id].append(name)
    return {call_id: sorted(found, key=str.lower) for call_id, found in names.items()}


def tag_filter_ids(*, client: Client, values: Iterable[str]) -> list[int]:
    """The pks of the client's tags named by `values`, each a tag id or a tag's name (any case). An unknown
    value names nothing: the list filtered by it is empty, as for a tag nobody used."""
    ids, names = [], []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            names.append(value.lower())
    if not ids and not names:
        return []
    wanted = Q(public_id__in=ids) | Q(lowered__in=names)
    return list(
        Tag.objects.for_client(client).annotate(lowered=Lower("name")).filter(wanted).values_list("pk", flat=True)
    )
