from django.contrib.auth import views as auth_views
from django.urls import path

from notes import views

urlpatterns = [
    path("health", views.health),
    path("accounts/login/", auth_views.LoginView.as_view()),
    path("api/me", views.me),
    path("api/notes", views.notes),
]
