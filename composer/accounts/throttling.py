"""Per-account login throttling: failed logins of one account slow further attempts on it.

Independent of the client address (a whole NAT shares one): each username has its own failure
count in the cache (where every throttle counter lives). The first ``COMPOSER_LOGIN_FREE_ATTEMPTS``
failures cost nothing; each one after that locks the account's logins for a window that doubles
(``COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS``, 2x, 4x, ... up to ``COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS``).
While locked, every attempt on that account is refused with 429 before the password is checked,
so guessing gets no answer; a success clears the count. Other accounts are never affected.

Fail safe: when the cache cannot be reached, the cache error propagates and the API answers 503
naming Redis (``composer.core.errors``) rather than letting guesses through uncounted.
"""
from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

MAX_DOUBLINGS = 30  # 2**30 times the base is past any sane cap: keeps the power finite


def _key(kind: str, username: str) -> str:
    digest = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"composer:login:{kind}:{digest}"


def lockout_seconds(failures: int) -> float:
    """The lock-out window after ``failures`` consecutive failures (0 while still free)."""
    free = settings.COMPOSER_LOGIN_FREE_ATTEMPTS
    if failures <= free:
        return 0.0
    window = settings.COMPOSER_LOGIN_LOCKOUT_BASE_SECONDS * 2 ** min(failures - free - 1, MAX_DOUBLINGS)
    return float(min(window, settings.COMPOSER_LOGIN_LOCKOUT_MAX_SECONDS))


def login_locked_for(username: str) -> float:
    """Seconds until the account may try again (0 when it may now)."""
    until = cache.get(_key("locked", username))
    return max(0.0, until - time.time()) if until else 0.0


def login_failed(username: str) -> float:
    """Count a failure; returns the lock-out window it starts (0 while attempts are still free)."""
    key, memory = _key("failures", username), settings.COMPOSER_LOGIN_FAILURE_MEMORY_SECONDS
    cache.add(key, 0, memory)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, memory)
        failures = 1
    window = lockout_seconds(failures)
    if window:
        cache.set(_key("locked", username), time.time() + window, math.ceil(window))
    return window


def login_succeeded(username: str) -> None:
    cache.delete_many([_key("failures", username), _key("locked", username)])
