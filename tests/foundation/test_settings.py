"""Settings come from the environment, and production refuses to start with the default secret."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS"}}
    env.update(env_overrides)
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], 'debug': settings.DEBUG,"
        " 'hosts': settings.ALLOWED_HOSTS, 'device': settings.COMPOSER_DEVICE, 'redis': settings.REDIS_URL}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "composer.settings.base"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_default_secret(tmp_path):
    result = _load_settings({"DEBUG": "false", "COMPOSER_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_a_real_secret_and_reads_the_environment(tmp_path):
    result = _load_settings(
        {
            "DEBUG": "false",
            "SECRET_KEY": "a-long-random-production-secret",
            "DATABASE_URL": "postgres://u:p@db.example:5432/composer",
            "ALLOWED_HOSTS": "composer.example, other.example",
            "COMPOSER_DEVICE": "cuda",
            "REDIS_URL": "redis://cache.example:6379/3",
            "COMPOSER_VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 0, result.stderr
    assert '"engine": "django.db.backends.postgresql"' in result.stdout
    assert '"debug": false' in result.stdout
    assert '"hosts": ["composer.example", "other.example"]' in result.stdout
    assert '"device": "cuda"' in result.stdout
    assert '"redis": "redis://cache.example:6379/3"' in result.stdout


def test_embedded_default_is_sqlite_under_var(tmp_path):
    result = _load_settings({"COMPOSER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert '"engine": "django.db.backends.sqlite3"' in result.stdout
