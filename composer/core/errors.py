"""One exception handler for the API: every error is JSON ``{"message", "extra"}`` with a 4xx status."""
from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        body = {"message": str(data["detail"]), "extra": {}}
    else:
        body = {"message": "Invalid input.", "extra": {"fields": data}}
    return Response(body, status=response.status_code or status.HTTP_400_BAD_REQUEST, headers=getattr(response, "_headers", None))
