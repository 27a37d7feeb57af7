"""Settings for pytest: the environment's database and Redis, a fast password hasher, no throttling noise."""
import os

# Tests run the development configuration (base defaults DEBUG to off, and then refuses the default
# secret); servers and workers the tests start with these settings inherit it.
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F401,F403
from .base import DATABASES, REST_FRAMEWORK, VAR_DIR, env_bool  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "10000/min", "signup": "10000/min", "runs": "10000/min", "validate": "10000/min"}}

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: worker and ASGI server subprocesses in integration tests must see it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Each test process keeps its own cache: throttle counters must not leak between test runs.
# COMPOSER_TEST_REDIS_CACHE=1 keeps base's Redis cache (servers started by the Redis-down tests).
if not env_bool("COMPOSER_TEST_REDIS_CACHE", False):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
