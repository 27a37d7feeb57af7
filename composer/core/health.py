"""``GET /healthz``: database, Redis and live workers (with their device); 200 when all are up,
503 naming the failing parts otherwise. Load balancers and ``composer up`` poll it."""
from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


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


@require_GET
def healthz(request):
    database = _check_database()
    redis_state = _check_redis()
    workers = _check_workers(redis_state["ok"])
    parts = {"database": database, "redis": redis_state, "workers": workers}
    failing = [name for name, state in parts.items() if not state["ok"]]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, **parts}
    return JsonResponse(body, status=200 if not failing else 503)
