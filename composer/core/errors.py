"""One exception handler for the API: every error is JSON ``{"message", "extra"}`` with a 4xx status
(or 503 when a service the request needs is down).

Domain errors raised by services (``ApplicationError``) carry their own message and ``extra``;
DRF and Django errors are mapped here too, so no view formats an error body itself. Field errors
name the field in the message (``"Invalid input: spec.nodes[0].id: This field is required."``)
and list every field under ``extra.fields``.

A service that is down answers 503 naming it in ``extra.unavailable``: Redis holds the throttle
counters (every throttled write and login), the Celery broker and the live channel layer, so a
Redis connection error anywhere in a request (``redis`` or ``kombu``'s) becomes
``{"message": "Redis is unavailable ...", "extra": {"unavailable": "redis"}}`` instead of a 500.
Reads that need only the database never touch it and keep working.
"""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from composer.core.parsers import RequestTooLarge, max_body_bytes, too_large_message

logger = logging.getLogger(__name__)

INVALID_INPUT = "Invalid input"


class ApplicationError(Exception):
    """A domain error a service raises; the API answers ``status`` with ``{"message", "extra"}``."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, extra: dict | None = None, *, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


REDIS = "redis"
SERVICE_UNAVAILABLE = "{part} is unavailable right now; this request needs it. Try again shortly."
RETRY_AFTER_SECONDS = 5
# A Redis outage as each client library reports it: the cache and channel layer (redis-py), the
# Celery broker (kombu).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, BrokerError)


class ServiceUnavailable(ApplicationError):
    """503: a part the request needs (``part``, e.g. "redis") is down; ``extra.unavailable`` names it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, part: str):
        super().__init__(SERVICE_UNAVAILABLE.format(part=part.capitalize()),
                         {"unavailable": part, "retry_after_seconds": RETRY_AFTER_SECONDS})


def _first_field_error(errors, prefix: str = "") -> tuple[str, str] | None:
    """The dotted path and message of the first error in a DRF error structure."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = key if not prefix else (f"{prefix}{key}" if str(key).startswith("[") else f"{prefix}.{key}")
            if key == "non_field_errors":
                path = prefix or "body"
            found = _first_field_error(value, path)
            if found:
                return found
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, (dict, list)):
                found = _first_field_error(value, f"{prefix}[{index}]")
                if found:
                    return found
            else:
                return (prefix or "body", str(value))
    elif errors is not None:
        return (prefix or "body", str(errors))
    return None


def field_errors_body(errors) -> dict:
    first = _first_field_error(errors)
    message = f"{INVALID_INPUT}: {first[0]}: {first[1]}" if first else f"{INVALID_INPUT}."
    return {"message": message, "extra": {"fields": errors}}


def exception_handler(exc, context):
    if isinstance(exc, REDIS_DOWN):
        logger.warning("request refused, redis is down: %s", exc)
        exc = ServiceUnavailable(REDIS)
    if isinstance(exc, ApplicationError):
        response = Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
        if isinstance(exc, ServiceUnavailable):
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, met while reading a form
        exc = RequestTooLarge(too_large_message(None, max_body_bytes()))
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError(str(exc))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = field_errors_body(response.data)
    elif isinstance(exc, exceptions.ParseError):
        body = {"message": f"{INVALID_INPUT}: body: {exc.detail}", "extra": {"fields": {"body": [str(exc.detail)]}}}
    else:
        data = response.data
        detail = data.get("detail") if isinstance(data, dict) else data
        body = {"message": str(detail), "extra": {}}
        if isinstance(exc, RequestTooLarge):
            body["extra"]["limit_bytes"] = max_body_bytes()
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["extra"]["retry_after_seconds"] = int(exc.wait)
    response.data = body
    return response


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: an API request refused by Django's CSRF check (the views that log in
    or sign up) gets the API's JSON error, a page gets Django's own."""
    if request.path.startswith("/api/"):
        return JsonResponse({"message": f"CSRF Failed: {reason}", "extra": {"reason": reason}}, status=403)
    from django.views.csrf import csrf_failure as page

    return page(request, reason=reason)
