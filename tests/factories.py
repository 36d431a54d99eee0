import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Client, User
from accounts.roles import Role

PASSWORD = "correct horse battery staple"


class ClientFactory(DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Store {n}")
    slug = factory.Sequence(lambda n: f"store-{n}")


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
