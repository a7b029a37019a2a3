"""JSON views: the session login is Django's own LoginView; unsafe methods need the CSRF token."""

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from notes.models import Note


def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def me(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "not logged in"}, status=401)
    return JsonResponse({"username": request.user.get_username()})


def notes(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "not logged in"}, status=401)
    if request.method == "POST":  # CsrfViewMiddleware has checked the token by now
        note = Note.objects.create(title=json.loads(request.body)["title"], owner=request.user)
        return JsonResponse({"id": note.id, "title": note.title}, status=201)
    return JsonResponse([{"id": n.id, "title": n.title} for n in Note.objects.filter(owner=request.user)], safe=False)
