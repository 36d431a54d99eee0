from django.urls import path

from caly import settings_views as views

app_name = "settings"

urlpatterns = [
    path("", views.settings_index, name="index"),
    path("company/", views.settings_company, name="company"),
    path("tags/", views.settings_tag_create, name="tags"),
    path("tags/<uuid:public_id>/", views.settings_tag_update, name="tag"),
    path("tags/<uuid:public_id>/delete/", views.settings_tag_delete, name="tag-delete"),
    path("recording-retention/", views.settings_retention, name="retention"),
]
