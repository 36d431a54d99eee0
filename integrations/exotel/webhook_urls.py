from django.urls import path

from integrations.exotel import views

# Included at /api/v1/webhooks/exotel/. The token is a secret: caly/foundation/context.py keeps it out of the logs.
urlpatterns = [
    path(
        "<uuid:public_id>/<str:token>/status-callback",
        views.ExotelStatusCallbackView.as_view(),
        name="exotel-status-callback",
    ),
    path("<uuid:public_id>/<str:token>/passthru", views.ExotelPassthruView.as_view(), name="exotel-passthru"),
]
