from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from accounts import staff_views
from caly import admin_views, dashboard, views
from caly.foundation import error_views, health, metrics

# Swagger UI and Redoc set inline styles and Redoc starts a blob: worker; scripts stay 'self' only.
docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"], "img-src": ["data:"]})

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/parts/<slug:name>", dashboard.dashboard_part, name="dashboard-part"),
    path("", include("recordings.urls")),
    path("", include("integrations.urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    path("health/", health.summary, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/detailed", health.detailed, name="health-detailed"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/", include("caly.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
    path("api/redoc/", docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    # Any other /api/ path answers the envelope's 404 itself, so DEBUG's HTML page never shows there.
    re_path(r"^api/", error_views.api_not_found, name="api-not-found"),
    path("accounts/onboarding/", include("caly.onboarding_urls")),
    path("settings/", include("caly.settings_urls")),
    path("accounts/", include("accounts.urls")),
    path("settings/phones/", include("accounts.phone_urls")),
    path("developers/", include("caly.developers_urls")),
    path("admin/system/", admin.site.admin_view(admin_views.system), name="admin-system"),
    # Ahead of admin.site.urls: the admin's sign-in behind the shared limits, and its second factor.
    path("admin/login/", staff_views.login, name="staff-login"),
    path("admin/2fa/", staff_views.overview, name="staff-2fa"),
    path("admin/2fa/enrol/", staff_views.enrol, name="staff-2fa-enrol"),
    path("admin/2fa/verify/", staff_views.verify, name="staff-2fa-verify"),
    path("admin/2fa/recovery-codes/", staff_views.recovery_codes, name="staff-2fa-codes"),
    path("admin/", admin.site.urls),
]

handler400 = "caly.foundation.error_views.bad_request"
handler403 = "caly.foundation.error_views.permission_denied"
handler404 = "caly.foundation.error_views.page_not_found"
handler500 = "caly.foundation.error_views.server_error"
