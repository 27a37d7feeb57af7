"""URL routes of the accounts app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
