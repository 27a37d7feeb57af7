"""One exception handler for the API: every error is JSON ``{"message", "extra"}`` with a 4xx status.

Domain errors raised by services (``ApplicationError``) carry their own message and ``extra``;
DRF and Django errors are mapped here too, so no view formats an error body itself. Field errors
name the field in the message (``"Invalid input: spec.nodes[0].id: This field is required."``)
and list every field under ``extra.fields``.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

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


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


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
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
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
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["extra"]["retry_after_seconds"] = int(exc.wait)
    response.data = body
    return response
