from django.urls import path

from accounts import views

app_name = "phones"

urlpatterns = [
    path("", views.phones, name="index"),
    path("<uuid:public_id>/remove/", views.phone_remove, name="remove"),
]
