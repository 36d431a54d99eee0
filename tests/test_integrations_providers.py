"""One description per provider: the API, the integrations page and the onboarding wizard all come from it."""

import pytest
from django.test import Client as BrowserClient
from django.urls import resolve, reverse

from accounts.models import OnboardingStep
from caly import onboarding
from integrations.api.views import IntegrationsView
from integrations.providers import PROVIDERS

pytestmark = pytest.mark.django_db


def browser(user) -> BrowserClient:
    client = BrowserClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("key", PROVIDERS)
def test_it_gives_every_provider_an_api_route_for_its_connection_and_its_check(key):
    assert reverse(f"integration-{key}") == f"/api/v1/integrations/{key}"
    assert reverse(f"integration-{key}-test") == f"/api/v1/integrations/{key}/test"
    for name in (f"integration-{key}", f"integration-{key}-test"):
        assert resolve(reverse(name)).func.view_class.provider is PROVIDERS[key]


def test_it_lists_every_provider_in_the_apis_connections():
    assert set(IntegrationsView.serializer_class().fields) == set(PROVIDERS)


def test_it_answers_null_for_every_provider_not_connected(alice, api):
    api.force_authenticate(alice)
    assert api.get("/api/v1/integrations").json()["data"] == dict.fromkeys(PROVIDERS)


@pytest.mark.parametrize("key", PROVIDERS)
def test_it_gives_every_provider_page_actions(key):
    for action in ("save", "test", "disconnect"):
        match = resolve(reverse(f"integrations:{key}-{action}"))
        assert match.kwargs == {"provider": key}


def test_it_shows_a_card_for_every_provider_on_the_integrations_page(alice):
    response = browser(alice).get("/integrations/")
    cards = [card["provider"] for card in response.context["cards"]]
    assert cards == list(PROVIDERS.values())
    for key, provider in PROVIDERS.items():
        assert f'data-integration="{key}"' in response.content.decode()
        assert f"Connect {provider.label}</button>" in response.content.decode()


@pytest.mark.parametrize("key", PROVIDERS)
def test_it_gives_every_provider_a_wizard_step(key, alice):
    step = OnboardingStep(key)
    assert step in onboarding.WIZARD_STEPS and onboarding.CONNECTION_STEPS[step] is PROVIDERS[key]
    alice.client.onboarding_step = OnboardingStep.DONE
    alice.client.save(update_fields=["onboarding_step"])
    response = browser(alice).get(reverse(f"onboarding:{key}"))
    assert response.status_code == 200 and response.context["provider"] is PROVIDERS[key]
    assert f'data-integration="{key}"' in response.content.decode()


def test_the_wizard_counts_every_provider_as_a_connection_step(client_a):
    assert set(onboarding.connected(client=client_a)) == {OnboardingStep(key) for key in PROVIDERS}
