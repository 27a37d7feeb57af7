"""URL routes of the accounts app (mounted under ``/api/``)."""
from django.urls import path

from composer.accounts import apis

urlpatterns = [
    path("auth/csrf/", apis.CsrfApi.as_view(), name="auth-csrf"),
    path("auth/signup/", apis.SignupApi.as_view(), name="auth-signup"),
    path("auth/login/", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("users/<str:username>/", apis.UserPageApi.as_view(), name="user-page"),
]
