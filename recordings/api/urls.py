from django.urls import path

from recordings.api import tags, views

urlpatterns = [
    path("calls", views.CallListView.as_view(), name="calls"),
    path("calls/export", views.CallExportView.as_view(), name="calls-export"),
    path("calls/missed", views.MissedCallListView.as_view(), name="calls-missed"),
    path("calls/exports/<uuid:public_id>", views.CallExportDetailView.as_view(), name="call-export"),
    path(
        "calls/exports/<uuid:public_id>/download", views.CallExportDownloadView.as_view(), name="call-export-download"
    ),
    path("calls/<uuid:public_id>", views.CallDetailView.as_view(), name="call"),
    path("calls/<uuid:public_id>/tags", tags.CallTagsView.as_view(), name="call-tags"),
    path("tags", tags.TagListView.as_view(), name="tags"),
    path("tags/<uuid:public_id>", tags.TagDetailView.as_view(), name="tag"),
    path("recordings", views.RecordingListView.as_view(), name="recordings"),
    path("recordings/<uuid:public_id>", views.RecordingDetailView.as_view(), name="recording"),
    path("recordings/<uuid:public_id>/download", views.RecordingDownloadView.as_view(), name="recording-download"),
    path("stats/summary", views.StatsSummaryView.as_view(), name="stats-summary"),
]
