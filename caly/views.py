from django.shortcuts import redirect, render

from caly import health


def home(request):
    """Signed-in users of a client start on their dashboard; everyone else sees the landing page."""
    user = request.user
    if user.is_authenticated and user.client is not None and user.client.is_active:
        return redirect("recordings:dashboard")
    return render(request, "home.html")


def status_panel(request):
    """HTML fragment loaded asynchronously by the home page's service status panel."""
    report = health.readiness_report()
    return render(request, "partials/status_panel.html", {"report": report}, status=200)
