"""URL routes of the runs app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
