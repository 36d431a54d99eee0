from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control


def home(request):
    """Signed-in users of a client start on their dashboard; everyone else sees the landing page."""
    user = request.user
    if user.is_authenticated and user.client is not None and user.client.is_active:
        return redirect("dashboard")
    return render(request, "home.html")


@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico wherever a page names no icon (a JSON answer, say): ours.

    Temporary, so a new icon's hashed file name is followed within a day.
    """
    return redirect(static("img/favicon.svg"))
