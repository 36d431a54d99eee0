from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Client, OnboardingStep, User
from accounts.roles import Role
from integrations.models import CheckStatus, ShopifyConnection
from recordings.models import Call, CallStatus, Direction, Recording, RecordingStatus, Tag, TagColour

PASSWORD = "correct horse battery staple"


class ClientFactory(DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")
    # An established client; onboarding tests start one at OnboardingStep.COMPANY, as sign-up does.
    onboarding_step = OnboardingStep.DONE


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    client = factory.SubFactory(ClientFactory)
    role = factory.LazyAttribute(lambda user: Role.VIEWER if user.client else "")
    email_verified_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    client = None
    role = ""
    is_staff = True


class CallFactory(DjangoModelFactory):
    """A completed inbound call an hour ago; answered_at, ended_at and duration follow the status."""

    class Meta:
        model = Call

    client = factory.SubFactory(ClientFactory)
    provider_call_id = factory.Sequence(lambda n: f"call-{n}")
    direction = Direction.INBOUND
    from_number = factory.Sequence(lambda n: f"+9198{n:08d}")
    to_number = "+918047181234"
    status = CallStatus.COMPLETED
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    answered_at = factory.LazyAttribute(
        lambda call: call.started_at + timedelta(seconds=6) if call.status == CallStatus.COMPLETED else None
    )
    duration_seconds = factory.LazyAttribute(lambda call: 95 if call.answered_at else 0)
    ended_at = factory.LazyAttribute(
        lambda call: (call.answered_at or call.started_at) + timedelta(seconds=call.duration_seconds or 20)
    )


class RecordingFactory(DjangoModelFactory):
    """A pending recording row (no bytes); store audio with recording_store for a real one."""

    class Meta:
        model = Recording

    call = factory.SubFactory(CallFactory)
    client = factory.SelfAttribute("call.client")
    started_at = factory.SelfAttribute("call.started_at")
    status = RecordingStatus.PENDING


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"tag {n}")
    colour = TagColour.GREY


class ShopifyConnectionFactory(DjangoModelFactory):
    """A connection as it is once Shopify accepted its token for the shop (verified, the shop claimed),
    made without asking anyone: for tests about something other than connecting."""

    class Meta:
        model = ShopifyConnection

    client = factory.SubFactory(ClientFactory)
    shop_domain = factory.LazyAttribute(lambda connection: f"{connection.client.slug}.myshopify.com")
    access_token = "shpat_factory_token_0123456789"
    webhook_secret = "factory-webhook-secret-0123456789"
    api_version = "2026-04"
    check_status = CheckStatus.OK
    checked_at = factory.LazyFunction(timezone.now)
    verified_at = factory.SelfAttribute("checked_at")
