from django.urls import path

from caly import developers_views

app_name = "developers"
urlpatterns = [
    path("", developers_views.index, name="index"),
    path("keys/<uuid:public_id>/revoke", developers_views.key_revoke, name="key-revoke"),
]
