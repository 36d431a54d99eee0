from django.urls import path

from recordings import views

app_name = "recordings"

urlpatterns = [
    path("calls/", views.calls, name="calls"),
    path("calls/missed/", views.missed, name="missed"),
    path("calls/place/", views.call_place, name="call-place"),
    path("calls/export/", views.calls_export, name="calls-export"),
    path("calls/exports/<uuid:public_id>/", views.call_export, name="call-export"),
    path("calls/<uuid:public_id>/", views.call_detail, name="call"),
    path("calls/<uuid:public_id>/update/", views.call_edit, name="call-update"),
    path("calls/<uuid:public_id>/tags/", views.call_tags_edit, name="call-tags"),
    path("calls/<uuid:public_id>/retry-recording/", views.call_retry_recording, name="call-retry-recording"),
]
