"""Demo calls and recordings: realistic, deterministic rows for `seed_demo` and the benchmarks.

Calls get provider ids `demo-0`, `demo-1`, … in order of time, so seeding again inserts only the
ids that are missing (a larger `count` extends the set; nothing is duplicated). Rows go in with
bulk_create and no per-row full_clean: a million calls take minutes, and a test validates the
generator's output once instead.
"""

from __future__ import annotations

import io
import math
import random
import sys
import wave
import zoneinfo
from array import array
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from itertools import islice

from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Client, MemberPhone, User
from accounts.roles import Role
from recordings import services
from recordings.models import (
    Call,
    CallStatus,
    CallTag,
    Direction,
    Provider,
    Recording,
    RecordingStatus,
    Tag,
    TagColour,
)

DEMO_ID_PREFIX = "demo-"
BATCH_SIZE = 5000
DAYS = 90
# The demo store's two Exotel virtual numbers (Bengaluru and Mumbai landlines).
STORE_NUMBERS = ("+918047181234", "+912250661234")
INBOUND_SHARE = 0.65
STATUS_WEIGHTS = {
    CallStatus.COMPLETED: 74,
    CallStatus.NO_ANSWER: 13,
    CallStatus.BUSY: 6,
    CallStatus.FAILED: 4,
    CallStatus.CANCELED: 3,
}
# Calls per local hour of the day: a support desk open 8:00–22:00 with late-morning and evening peaks.
HOUR_WEIGHTS = {8: 1, 9: 4, 10: 8, 11: 9, 12: 8, 13: 6, 14: 7, 15: 8, 16: 8, 17: 7, 18: 6, 19: 4, 20: 2, 21: 1}
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.5)  # Monday … Sunday
RESOLVED_SHARE = 0.6
RATED_SHARE = 0.35
SATISFACTION_WEIGHTS = {1: 3, 2: 5, 3: 12, 4: 35, 5: 45}
NOTED_SHARE = 0.45
NOTES = (
    "Asked where order #{order} is; shared the tracking link.",
    "Wants to return order #{order} (size M); return pickup booked.",
    "Refund for cancelled order #{order} not received yet; escalated to payments.",
    "COD order #{order}: customer will keep cash ready, delivery tomorrow.",
    "Changed the delivery address on order #{order}.",
    "Damaged item in order #{order}; replacement raised.",
    "Asked about size exchange for order #{order}; explained the 30-day window.",
    "Wanted a GST invoice for order #{order}; emailed it.",
    "Coupon did not apply on checkout; placed order #{order} manually.",
    "Delivery partner did not call before arriving; order #{order} rescheduled.",
)
# Calls whose Exotel CustomField names an order ("order-1042", as an IVR or a click-to-call form passes it;
# stored in the call's metadata as integrations.exotel.payload keeps it). Order numbers run from 1001.
ORDER_FIELD_SHARE = 0.15
ORDER_NUMBERS = (1001, 9999)
RECORDINGS_WANTED = 40
# Real objects that `recording_rows_seed` stores per client and shares among all its rows.
SHARED_SAMPLES = 4


def demo_calls(*, client: Client, count: int, now: datetime | None = None) -> Iterator[Call]:
    """`count` unsaved calls of `client` over the DAYS local days up to `now`, oldest first.

    Deterministic for a client and count: the n-th call always has provider id `demo-<n>` and
    the same numbers, status and durations (the customer pool grows with `count`); only the
    times move with `now`, and calls still going on at `now` are ringing or in progress.
    """
    now = now or timezone.now()
    zone = zoneinfo.ZoneInfo(client.timezone)
    # Two streams, so a call's details never depend on how many calls its day got.
    rng = random.Random(f"caly-demo:{client.slug}")  # noqa: S311 - demo data, not secrets
    clock = random.Random(f"caly-demo-times:{client.slug}")  # noqa: S311
    customers = [_indian_mobile(rng) for _ in range(max(20, count // 3))]
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    hours = [_day_hours(day, zone, now) for day in days]
    weights = [
        WEEKDAY_WEIGHTS[day.weekday()] * sum(w for _, w, _ in day_hours)
        for day, day_hours in zip(days, hours, strict=True)
    ]
    n = 0
    for day, day_hours, calls_that_day in zip(days, hours, _apportion(count, weights), strict=True):
        starts = sorted(_start_time(clock, day, zone, day_hours) for _ in range(calls_that_day))
        for started_at in starts:
            yield _call(rng, client=client, n=n, started_at=started_at, now=now, customers=customers)
            n += 1


def calls_seed(
    *, client: Client, count: int, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> tuple[int, int]:
    """Insert the demo calls `client` is missing, in bulk; returns (created, already there)."""
    created = existing = 0
    for batch in _batched(demo_calls(client=client, count=count, now=now), batch_size):
        ids = [call.provider_call_id for call in batch]
        present = set(
            Call.objects.for_client(client)
            .filter(provider=Provider.EXOTEL, provider_call_id__in=ids)
            .values_list("provider_call_id", flat=True)
        )
        fresh = [call for call in batch if call.provider_call_id not in present]
        # ignore_conflicts: a run seeding the same client at the same time must not fail this one.
        Call.objects.bulk_create(fresh, batch_size=batch_size, ignore_conflicts=True)
        created += len(fresh)
        existing += len(present)
    return created, existing


# The demo's tags and the words of the demo notes (NOTES) that put each on a call.
DEMO_TAGS = (
    ("refund", TagColour.RED, ("Refund",)),
    ("delivery", TagColour.BLUE, ("tracking link", "delivery address", "Delivery partner", "delivery tomorrow")),
    ("exchange", TagColour.PURPLE, ("size exchange", "replacement raised")),
    ("return", TagColour.ORANGE, ("return pickup",)),
    ("damaged item", TagColour.PINK, ("Damaged item",)),
    ("invoice", TagColour.GREY, ("GST invoice",)),
    ("payment", TagColour.GREEN, ("COD order", "Coupon did not apply")),
)


def tags_seed(*, client: Client, batch_size: int = BATCH_SIZE) -> tuple[int, int]:
    """The demo tags (created when missing) on the demo calls whose notes speak of them; returns (tags created,
    calls tagged). Idempotent: a tag already on a call is left as it is."""
    created = tagged = 0
    for name, colour, phrases in DEMO_TAGS:
        tag = Tag.objects.for_client(client).filter(name__iexact=name).first()
        if tag is None:
            tag = Tag(client=client, name=name, colour=colour)
            tag.full_clean()
            tag.save()
            created += 1
        wanted = Call.objects.none()
        for phrase in phrases:
            wanted |= Call.objects.for_client(client).filter(
                provider_call_id__startswith=DEMO_ID_PREFIX, notes__contains=phrase
            )
        present = set(CallTag.objects.filter(tag=tag).values_list("call_id", flat=True))
        missing = [
            pk for pk in wanted.values_list("pk", flat=True).iterator(chunk_size=batch_size) if pk not in present
        ]
        for start in range(0, len(missing), batch_size):
            CallTag.objects.bulk_create(
                [CallTag(call_id=pk, tag=tag) for pk in missing[start : start + batch_size]], ignore_conflicts=True
            )
        tagged += len(missing)
    return created, tagged


def recordings_seed(*, client: Client, wanted: int = RECORDINGS_WANTED) -> int:
    """Store a few seconds of WAV audio for the newest completed demo calls until `wanted` have one.

    Goes through `services.recording_store`, the production storage path; returns how many it stored.
    """
    demo_recordings = Recording.objects.for_client(client).filter(call__provider_call_id__startswith=DEMO_ID_PREFIX)
    missing = wanted - demo_recordings.exclude(status=RecordingStatus.DELETED).count()
    if missing <= 0:
        return 0
    calls = (
        Call.objects.for_client(client)
        .filter(status=CallStatus.COMPLETED, has_recording=False, provider_call_id__startswith=DEMO_ID_PREFIX)
        .select_related("client")
        .order_by("-started_at", "-id")[:missing]
    )
    stored = 0
    for call in calls:
        seconds = min(call.duration_seconds, 3 + call.pk % 4)
        services.recording_store(
            call=call,
            stream=io.BytesIO(wav_tones(seconds=seconds, seed=call.pk)),
            content_type="audio/wav",
            duration_seconds=seconds,
            channels=1,
        )
        stored += 1
    return stored


def recording_rows_seed(*, client: Client, samples: int = SHARED_SAMPLES, batch_size: int = BATCH_SIZE) -> int:
    """Give every completed demo call of `client` a stored recording row, in bulk; returns how many it added.

    Audio for a million calls would take hours and gigabytes, so `samples` real recordings are stored
    through `services.recording_store` (the production path: objects in the configured storage, sha256
    and size recorded) and every other row points at one of their objects. Downloads then work for any
    call; only the bytes repeat. Benchmarks and large demos use this; `recordings_seed` stays the default.
    """
    live = Recording.objects.for_client(client).filter(status=RecordingStatus.STORED)
    if live.count() < samples:
        recordings_seed(client=client, wanted=samples)
    shared = list(live.order_by("id")[:samples])
    if not shared:
        return 0
    calls = Call.objects.for_client(client).filter(
        status=CallStatus.COMPLETED, has_recording=False, provider_call_id__startswith=DEMO_ID_PREFIX
    )
    now = timezone.now()
    added = 0
    last_id = 0
    while batch := list(calls.filter(id__gt=last_id).order_by("id").values_list("id", "started_at")[:batch_size]):
        last_id = batch[-1][0]
        rows = []
        for call_id, started_at in batch:
            sample = shared[call_id % len(shared)]
            rows.append(
                Recording(
                    client=client,
                    call_id=call_id,
                    status=RecordingStatus.STORED,
                    started_at=started_at,
                    storage_key=sample.storage_key,
                    content_type=sample.content_type,
                    size_bytes=sample.size_bytes,
                    duration_seconds=sample.duration_seconds,
                    sha256=sample.sha256,
                    channels=sample.channels,
                    attempts=1,
                    stored_at=now,
                )
            )
        Recording.objects.bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)
        Call.objects.filter(pk__in=[call_id for call_id, _ in batch]).update(has_recording=True)
        added += len(rows)
    return added


# The roles that take and place calls in the demo, and the share of calls on a number no member registered
# (a colleague's personal phone, a forwarded line): those show only the number that took them.
AGENT_ROLES = (Role.AGENT, Role.ADMIN, Role.OWNER)
UNREGISTERED_AGENT_NUMBER = "+919000012345"
UNMATCHED_SHARE = 0.1


def demo_agent_number(user: User) -> str:
    """A member's demo mobile number: the same on every run."""
    digits = random.Random(f"caly-demo-agent:{user.email}").randrange(10**9)  # noqa: S311 - demo data
    return f"+919{digits:09d}"


def agents_seed(*, client: Client, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Give the demo client's agents, admins and owners a phone number each, attribute the demo calls that have
    no agent yet to them (a tenth to a number nobody registered), then recount the numbers to ring back.

    Idempotent: numbers are registered once and only calls without an agent number are attributed."""
    members = list(User.objects.for_client(client).filter(role__in=AGENT_ROLES, is_active=True).order_by("id"))
    registered = 0
    for member in members:
        number = demo_agent_number(member)
        if not MemberPhone.objects.for_client(client).filter(number=number).exists():
            accounts_services.member_phone_add(actor=member, member=member, number=number, label="Mobile")
            registered += 1
    attributed = 0
    calls = Call.objects.for_client(client).filter(provider_call_id__startswith=DEMO_ID_PREFIX, agent_number="")
    if members:
        while batch := list(calls.order_by("id").values_list("id", flat=True)[:batch_size]):
            groups: dict[int | None, list[int]] = {}
            for call_id in batch:
                pick = random.Random(f"caly-demo-call-agent:{client.slug}:{call_id}")  # noqa: S311 - demo data
                member = None if pick.random() < UNMATCHED_SHARE else members[pick.randrange(len(members))]
                groups.setdefault(member.pk if member else None, []).append(call_id)
            by_pk = {member.pk: member for member in members}
            for member_pk, ids in groups.items():
                member = by_pk.get(member_pk) if member_pk else None
                number = demo_agent_number(member) if member else UNREGISTERED_AGENT_NUMBER
                Call.objects.filter(pk__in=ids).update(agent=member, agent_number=number)
            attributed += len(batch)
    missed = services.missed_calls_rebuild(client=client)
    return {"registered": registered, "attributed": attributed, "missed": missed}


def wav_tones(*, seconds: int, seed: int, rate: int = 8000) -> bytes:
    """A mono 16-bit PCM WAV of `seconds` of soft tones taking turns, like two voices on a call."""
    rng = random.Random(seed)  # noqa: S311 - demo audio
    total = seconds * rate
    fade = rate // 40  # 25 ms in and out, so the tones do not click
    samples = array("h")
    while len(samples) < total:
        pitch = rng.choice((196, 220, 262, 294, 330, 392, 440))
        length = min(total - len(samples), int(rate * rng.uniform(0.2, 0.6)))
        step = 2 * math.pi * pitch / rate
        samples.extend(int(7000 * min(1.0, i / fade, (length - i) / fade) * math.sin(step * i)) for i in range(length))
        samples.extend([0] * min(total - len(samples), int(rate * rng.uniform(0.05, 0.25))))
    if sys.byteorder == "big":
        samples.byteswap()  # WAV samples are little-endian
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return buffer.getvalue()


def _call(rng: random.Random, *, client: Client, n: int, started_at: datetime, now: datetime, customers) -> Call:
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    inbound = rng.random() < INBOUND_SHARE
    customer, store = rng.choice(customers), rng.choice(STORE_NUMBERS)
    answered_at = None
    duration_seconds = 0
    if status == CallStatus.COMPLETED:
        answered_at = started_at + timedelta(seconds=rng.randint(3, 25))
        duration_seconds = int(min(3600, max(8, rng.lognormvariate(math.log(150), 0.8))))
        ended_at = answered_at + timedelta(seconds=duration_seconds)
    else:
        ring = {CallStatus.NO_ANSWER: (20, 45), CallStatus.BUSY: (1, 6), CallStatus.FAILED: (0, 3)}
        ended_at = started_at + timedelta(seconds=rng.randint(*ring.get(status, (2, 15))))
    if ended_at > now:  # the last few calls are still going on
        status = CallStatus.IN_PROGRESS if answered_at else CallStatus.RINGING
        ended_at, duration_seconds = None, 0
    finished = status == CallStatus.COMPLETED
    return Call(
        client=client,
        provider=Provider.EXOTEL,
        provider_call_id=f"{DEMO_ID_PREFIX}{n}",
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        from_number=customer if inbound else store,
        to_number=store if inbound else customer,
        status=status,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_seconds=duration_seconds,
        is_resolved=finished and rng.random() < RESOLVED_SHARE,
        customer_satisfaction=(
            rng.choices(list(SATISFACTION_WEIGHTS), weights=list(SATISFACTION_WEIGHTS.values()))[0]
            if finished and rng.random() < RATED_SHARE
            else None
        ),
        notes=rng.choice(NOTES).format(order=rng.randint(*ORDER_NUMBERS))
        if finished and rng.random() < NOTED_SHARE
        else "",
        metadata=_metadata(client, n),
    )


def _metadata(client: Client, n: int) -> dict[str, str]:
    """The call's Exotel extras: for some calls a CustomField naming an order. A stream of its own per call,
    so the other details of every call stay what they were."""
    rng = random.Random(f"caly-demo-custom-field:{client.slug}:{n}")  # noqa: S311 - demo data
    if rng.random() >= ORDER_FIELD_SHARE:
        return {}
    return {"custom_field": f"order-{rng.randint(*ORDER_NUMBERS)}"}


def _indian_mobile(rng: random.Random) -> str:
    """+91 and ten digits starting 6–9, as Indian mobile numbers do."""
    return f"+91{rng.choice('6789')}{rng.randrange(10**9):09d}"


def _day_hours(day: date, zone: zoneinfo.ZoneInfo, now: datetime) -> list[tuple[int, float, float]]:
    """(hour, weight, usable seconds) of the day's open hours, cut off at `now`."""
    hours = []
    for hour, weight in HOUR_WEIGHTS.items():
        opened = datetime.combine(day, time(hour), tzinfo=zone)
        usable = min(3600.0, max(0.0, (now - opened).total_seconds()))
        if usable > 0:
            hours.append((hour, weight * usable / 3600, usable))
    return hours


def _start_time(rng: random.Random, day: date, zone: zoneinfo.ZoneInfo, hours) -> datetime:
    hour, _, usable = rng.choices(hours, weights=[weight for _, weight, _ in hours])[0]
    return datetime.combine(day, time(hour), tzinfo=zone) + timedelta(seconds=rng.uniform(0, usable))


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` into whole shares proportional to `weights` (largest remainders get the rest)."""
    whole = sum(weights)
    if not total or not whole:
        return [0] * len(weights)
    exact = [total * weight / whole for weight in weights]
    shares = [math.floor(value) for value in exact]
    positive = [i for i, weight in enumerate(weights) if weight > 0]
    by_remainder = sorted(positive, key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _batched(items: Iterable[Call], size: int) -> Iterator[list[Call]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
