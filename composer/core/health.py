"""``GET /healthz``: database, Redis and live workers (with their device); 200 when all are up,
503 naming the failing parts otherwise. Load balancers and ``composer up`` poll it: no
authentication, no throttle, JSON only, documented in the OpenAPI schema as every API view."""
from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from composer.core.api import ApiView

PARTS = ("database", "redis", "workers")


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "engine": connection.vendor}
    except Exception as exc:  # any driver error means "down" here
        return {"ok": False, "engine": connection.vendor, "error": str(exc)}


def _check_redis() -> dict:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def _check_workers(redis_ok: bool) -> dict:
    if not redis_ok:
        return {"ok": False, "error": "redis is down, workers cannot be reached", "live": []}
    try:
        from composer.celery_app import live_workers

        live = live_workers()
    except Exception as exc:
        return {"ok": False, "error": str(exc), "live": []}
    summary = [{k: w.get(k) for k in ("hostname", "device", "device_name", "queues")} for w in live]
    if not summary:
        return {"ok": False, "error": "no live worker", "live": []}
    return {"ok": True, "live": summary}


class PartOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Why it is down.")


class DatabaseOutput(PartOutput):
    engine = serializers.CharField(help_text="sqlite or postgresql.")


class WorkersOutput(PartOutput):
    live = serializers.ListField(child=serializers.DictField(), help_text="hostname, device, device_name, queues.")


class HealthOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    failing = serializers.ListField(child=serializers.ChoiceField(choices=PARTS))
    database = DatabaseOutput()
    redis = PartOutput()
    workers = WorkersOutput()


class HealthApi(ApiView):
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = []
    renderer_classes = [JSONRenderer]

    @extend_schema(responses={200: HealthOutput, 503: HealthOutput}, summary="Health: database, Redis, live workers")
    def get(self, request):
        database = _check_database()
        redis_state = _check_redis()
        workers = _check_workers(redis_state["ok"])
        parts = {"database": database, "redis": redis_state, "workers": workers}
        failing = [name for name, state in parts.items() if not state["ok"]]
        body = {"status": "ok" if not failing else "unavailable", "failing": failing, **parts}
        return Response(body, status=200 if not failing else 503)


healthz = HealthApi.as_view()
