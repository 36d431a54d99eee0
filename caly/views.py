from django.shortcuts import render

from caly import health


def home(request):
    return render(request, "home.html")


def status_panel(request):
    """HTML fragment loaded asynchronously by the home page's service status panel."""
    report = health.readiness_report()
    return render(request, "partials/status_panel.html", {"report": report}, status=200)
