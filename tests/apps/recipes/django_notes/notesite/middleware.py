"""Every answer says which release served it: ``X-App-Version``."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def version_header(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response["X-App-Version"] = settings.APP_VERSION
        return response

    return middleware
