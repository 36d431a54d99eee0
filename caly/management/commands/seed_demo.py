"""Create the demo client, its logins and realistic calls for a local run, and print how to sign in.

The calls come with the demo store's Shopify customers and orders (integrations.shopify.demo): most callers
are a customer, some calls name an order in their CustomField, some numbers are unknown and a few are shared
by two customers; every call is then linked to its customer, as a live call is.

Seeding again adds nothing twice: calls carry provider ids `demo-<n>` and only missing ids are
inserted (see recordings.demo), and audio is stored only until the demo client has its sample.

The demo passwords are derived from a random secret made on the first run (settings.DEMO_SECRET_PATH,
git-ignored), so every run prints the same ones, yet no one can compute them: not from the development
SECRET_KEY every checkout shares, nor from this code. A password someone changed is left alone unless
`--reset-passwords` is given.
"""

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urljoin

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Client, OnboardingStep, User
from accounts.roles import Role
from caly.foundation.database import tables_analyze
from integrations.models import CallCustomer, Product, ProductVariant, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify.demo import seed_customers, seed_products
from recordings import demo
from recordings.models import Call, CallTag, Recording

DEMO_STAFF_EMAIL = "admin@caly.local"
DEMO_OWNER_EMAIL = "owner@demo-store.caly.local"
DEMO_CLIENT_SLUG = "demo-store"
# One login per client role, each landing where that role works.
DEMO_MEMBERS = [(role, f"{role.value}@demo-store.caly.local") for role in Role]


def demo_secret() -> bytes:
    """This installation's demo secret: read from DEMO_SECRET_PATH, made there (owner-only) on first use."""
    path = Path(settings.DEMO_SECRET_PATH)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run made it meanwhile
        return path.read_bytes()
    secret = secrets.token_bytes(32)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    return secret


def demo_password(email: str) -> str:
    """The demo login's password: the same on every run of this installation."""
    digest = hmac.new(demo_secret(), f"caly-demo-login:{email}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:16]


def _even_share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split into `parts` whole shares that add up to it."""
    return total // parts + (1 if index < total % parts else 0)


def non_negative_int(value: str) -> int:
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo client, its owner and a staff login, print the passwords, and add "
        "demo calls over the last 90 days with a sample of recorded audio."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production", action="store_true", help="Run even when DEBUG is off (never on a real site)."
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the demo logins' passwords back to the printed ones even where someone changed them.",
        )
        parser.add_argument(
            "--calls", type=non_negative_int, default=300, metavar="N", help="Calls of the demo client (default 300)."
        )
        parser.add_argument(
            "--clients",
            type=non_negative_int,
            default=0,
            metavar="M",
            help="Extra clients (demo-store-2 …), each with a tenth as many calls (default 0).",
        )
        parser.add_argument(
            "--other-calls",
            type=non_negative_int,
            default=None,
            metavar="T",
            help="Calls of all the extra clients together, split evenly (default: a tenth of --calls each).",
        )
        parser.add_argument(
            "--products",
            type=non_negative_int,
            default=40,
            metavar="P",
            help="Shopify products (with variants) of every demo client (default 40).",
        )
        parser.add_argument(
            "--no-audio", action="store_true", help=f"Store no recordings (default: {demo.RECORDINGS_WANTED})."
        )
        parser.add_argument(
            "--no-customers",
            action="store_true",
            help="Make no Shopify customers and orders (default: from the demo calls' numbers, calls linked to them).",
        )
        parser.add_argument(
            "--recording-rows",
            action="store_true",
            help=(
                "Give every completed call of every seeded client a stored recording, in bulk: "
                f"{demo.SHARED_SAMPLES} real objects per client, shared by the rows (for benchmarks)."
            ),
        )

    def handle(
        self,
        *args,
        allow_production=False,
        calls=300,
        clients=0,
        other_calls=None,
        products=40,
        no_audio=False,
        no_customers=False,
        recording_rows=False,
        reset_passwords=False,
        **options,
    ):
        if not settings.DEBUG and not allow_production:
            raise CommandError("seed_demo creates known logins; it runs only with DEBUG on (or --allow-production).")
        with transaction.atomic():
            # The demo company has been set up: its owner lands on a populated dashboard, not the wizard.
            client, _ = Client.objects.get_or_create(
                slug=DEMO_CLIENT_SLUG,
                defaults={
                    "name": "Demo Store",
                    "onboarding_step": OnboardingStep.DONE,
                    "onboarding_completed_at": timezone.now(),
                },
            )
            logins = [
                (
                    "staff",
                    DEMO_STAFF_EMAIL,
                    "admin:index",
                    self._upsert(
                        DEMO_STAFF_EMAIL, reset_passwords, client=None, role="", is_staff=True, is_superuser=True
                    ),
                )
            ]
            for role, email in DEMO_MEMBERS:
                password = self._upsert(
                    email, reset_passwords, client=client, role=role, is_staff=False, is_superuser=False
                )
                logins.append((f"{role.label.lower()}", email, "accounts:login", password))
        # Calls go in batch by batch (each committed), so a large interrupted run resumes where it stopped.
        self._seed_calls(client, calls)
        tags_made, calls_tagged = demo.tags_seed(client=client)
        self.stdout.write(f"Tags: created {tags_made}; tagged {calls_tagged} call(s) of {client.name} by their notes.")
        agents = demo.agents_seed(client=client)
        self.stdout.write(
            f"Agents: {agents['registered']} phone number(s) registered, {agents['attributed']} call(s) attributed; "
            f"{agents['missed']} number(s) with missed calls to ring back."
        )
        seeded = [client]
        for number in range(2, clients + 2):
            extra, _ = Client.objects.get_or_create(
                slug=f"{DEMO_CLIENT_SLUG}-{number}", defaults={"name": f"Demo Store {number}"}
            )
            share = calls // 10 if other_calls is None else _even_share(other_calls, clients, number - 2)
            self._seed_calls(extra, share)
            seeded.append(extra)
        made = sum(seed_products(client=each, count=products) for each in seeded)
        self.stdout.write(f"Products: created {made} for {len(seeded)} client(s), {products} each.")
        if not no_customers:
            started = time.perf_counter()
            counts = [seed_customers(client=each) for each in seeded]
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"Customers: created {sum(c['customers'] for c in counts)} Shopify customers and "
                f"{sum(c['orders'] for c in counts)} orders for {len(seeded)} client(s); "
                f"{sum(c['linked'] for c in counts)} calls linked ({seconds:.1f} s)."
            )
        if not no_audio:
            stored = demo.recordings_seed(client=client)
            self.stdout.write(f"Recordings: stored {stored} new demo recording(s) for {client.name}.")
        if recording_rows:
            started = time.perf_counter()
            rows = sum(demo.recording_rows_seed(client=each) for each in seeded)
            seconds = time.perf_counter() - started
            self.stdout.write(
                f"Recordings: added {rows} stored recording rows sharing sample objects ({seconds:.1f} s)."
            )
        tables_analyze(
            Call, CallTag, Recording, Product, ProductVariant, ShopifyCustomer, ShopifyOrder, ShopifyPhone, CallCustomer
        )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Sign in as staff or as one of {client.name}'s team:"))
        for label, email, url_name, password in logins:
            where = urljoin(settings.SITE_URL, reverse(url_name))
            self.stdout.write(f"  {label + ':':<7} {email:<32} password: {password:<18} sign in at {where}")

    def _seed_calls(self, client: Client, count: int) -> None:
        started = time.perf_counter()
        created, existing = demo.calls_seed(client=client, count=count)
        seconds = time.perf_counter() - started
        self.stdout.write(f"Calls: {client.name}: created {created}, {existing} already there ({seconds:.1f} s).")

    def _upsert(self, email: str, reset_password: bool, **fields) -> str:
        """Create or refresh one demo login; the password to print, or why there is none."""
        password = demo_password(email)
        user = User.objects.filter(email=email).first() or User(email=email)
        fields.setdefault("email_verified_at", user.email_verified_at or timezone.now())
        for name, value in fields.items():
            setattr(user, name, value)
        kept = user.pk is not None and not reset_password and not user.check_password(password)
        if not kept:
            user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        return "(changed since; --reset-passwords sets it back)" if kept else password
