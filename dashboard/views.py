from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from dashboard import selectors


@login_required
def overview(request):
    return render(request, "dashboard/overview.html", {"summary": selectors.overview_summary()})
