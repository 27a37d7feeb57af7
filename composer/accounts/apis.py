"""Accounts API: sign up, log in / out (session, with CSRF), token for scripts, me, user pages.

Failed logins are counted per account, never per address (``composer.accounts.throttling``).
The browser uses the session: ``GET /api/auth/csrf/`` sets the CSRF cookie, then every unsafe
request sends it back in ``X-CSRFToken``. Scripts and the CLI ``POST /api/auth/token/`` with a
username and password and then send ``Authorization: Token <key>`` (no CSRF needed).
"""
from __future__ import annotations

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from composer.accounts.services import user_create, user_token
from composer.accounts.throttling import login_failed, login_locked_for, login_succeeded
from composer.core.api import ApiPagination, ApiView, SignupRateThrottle
from composer.graphs.apis import GraphSummaryOutput, graph_summaries
from composer.graphs.selectors import user_public_graphs

INVALID_CREDENTIALS = "Invalid username or password."
ACCOUNT_LOCKED = "Too many failed logins for this account."


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    date_joined = serializers.DateTimeField()


def _user_json(user) -> dict:
    return {"id": user.pk, "username": user.username, "email": user.email, "date_joined": user.date_joined}


class CredentialsInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


def _authenticate(request, data) -> object:
    """The user these credentials name, counted per account (``throttling``): while the account is
    locked out the password is not even checked."""
    serializer = CredentialsInput(data=data)
    serializer.is_valid(raise_exception=True)
    username = serializer.validated_data["username"]
    wait = login_locked_for(username)
    if wait:
        raise exceptions.Throttled(wait=wait, detail=ACCOUNT_LOCKED)
    user = authenticate(request._request, **serializer.validated_data)
    if user is None or not user.is_active:
        login_failed(username)
        raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS)
    login_succeeded(username)
    return user


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: inline_serializer("CsrfOutput", {"csrf_token": serializers.CharField()})}, summary="Set the CSRF cookie")
    def get(self, request):
        return Response({"csrf_token": get_token(request._request)})


@method_decorator(csrf_protect, name="dispatch")
class SignupApi(ApiView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [SignupRateThrottle]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SignupInput"

        username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150, min_length=2)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        email = serializers.EmailField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: UserOutput}, summary="Create an account and log in")
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = user_create(**serializer.validated_data)
        except DjangoValidationError as error:
            errors = as_serializer_error(error)
            if "non_field_errors" in errors:  # password validators raise without a field
                errors["password"] = errors.pop("non_field_errors")
            raise exceptions.ValidationError(errors)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(_user_json(user), status=status.HTTP_201_CREATED)


@method_decorator(csrf_protect, name="dispatch")
class LoginApi(ApiView):
    permission_classes = [permissions.AllowAny]
    authentication_classes = []  # logging in must work whatever session the browser had before
    throttle_classes = []  # per account instead (``_authenticate``): a shared address never locks anyone out
    openapi_error_codes = ("403",)  # wrong credentials, or a missing CSRF token

    @extend_schema(request=CredentialsInput, responses={200: UserOutput}, summary="Log in (session cookie)")
    def post(self, request):
        user = _authenticate(request, request.data)
        login(request._request, user)
        return Response(_user_json(user))


class LogoutApi(ApiView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=None, responses={204: None}, summary="Log out (ends the session)")
    def post(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenApi(ApiView):
    """A logged-in user gets their token as is; a script posts its username and password."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = []  # per account, as logging in

    @extend_schema(
        request=CredentialsInput,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField(), "username": serializers.CharField()})},
        summary="Your API token (for scripts and the CLI)",
    )
    def post(self, request):
        user = request.user if request.user.is_authenticated and not request.data else _authenticate(request, request.data)
        return Response({"token": user_token(user=user), "username": user.username})


class MeApi(ApiView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: UserOutput}, summary="The logged-in user")
    def get(self, request):
        return Response(_user_json(request.user))


class PublicUserOutput(serializers.Serializer):
    username = serializers.CharField()
    date_joined = serializers.DateTimeField()


class UserPageOutput(serializers.Serializer):
    """A page of ``ApiPagination`` with the user beside it."""

    user = PublicUserOutput()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GraphSummaryOutput(many=True)


class UserPageApi(ApiView):
    permission_classes = [permissions.AllowAny]
    pagination_class = ApiPagination

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: UserPageOutput},
        summary="A user's page: their public graphs (paginated, with the user under `user`)",
    )
    def get(self, request, username: str):
        # PostgreSQL refuses NUL in a string literal: such a name cannot exist, so it is a 404, not a 500.
        owner = None if "\x00" in username else get_user_model().objects.filter(username=username, is_active=True).first()
        if owner is None:
            raise Http404("No such user.")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(user_public_graphs(owner=owner), request, view=self)
        response = paginator.get_paginated_response(graph_summaries(page, user=request.user))
        response.data = {"user": {"username": owner.username, "date_joined": owner.date_joined}, **response.data}
        return response
