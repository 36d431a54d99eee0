from django.urls import path

from caly import onboarding_views as views

app_name = "onboarding"

urlpatterns = [
    path("", views.onboarding_start, name="start"),
    path("company/", views.onboarding_company, name="company"),
    path("exotel/", views.onboarding_exotel, name="exotel"),
    path("exotel/skip/", views.onboarding_skip, {"step": "exotel"}, name="exotel-skip"),
    path("shopify/", views.onboarding_shopify, name="shopify"),
    path("shopify/skip/", views.onboarding_skip, {"step": "shopify"}, name="shopify-skip"),
    path("done/", views.onboarding_done, name="done"),
]
