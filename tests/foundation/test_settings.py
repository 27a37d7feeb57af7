"""Settings come from the environment: DEBUG is off unless turned on, production refuses the default
secret, and the production settings pass ``manage.py check --deploy``."""
import json
import os
import secrets
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


def test_debug_is_off_unless_the_environment_turns_it_on(tmp_path):
    result = _load_settings({"SECRET_KEY": "a-long-random-production-secret", "COMPOSER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False
    result = _load_settings({"COMPOSER_VAR_DIR": str(tmp_path)})  # no DEBUG, no SECRET_KEY: refused
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


# What the README's configuration table names for a deployment behind HTTPS.
PRODUCTION_ENV = {"DEBUG": "false", "COMPOSER_HTTPS": "true", "ALLOWED_HOSTS": "composer.example",
                  "CSRF_TRUSTED_ORIGINS": "https://composer.example"}


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {"PATH": os.environ["PATH"], **PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50),  # nothing of pytest's
           "COMPOSER_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "composer.settings.base"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_https_settings_follow_one_switch(tmp_path):
    code = ("import django, json; from django.conf import settings as s; django.setup(); print(json.dumps("
            "[s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))")
    env = {**os.environ, **PRODUCTION_ENV, "SECRET_KEY": "a-long-random-production-secret",
           "COMPOSER_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "composer.settings.base"}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, **extra},  # noqa: E731
                                       capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(run({})) == [True, True, True, 365 * 24 * 3600]
    assert json.loads(run({"COMPOSER_HTTPS": "false"})) == [False, False, False, 0]
    assert json.loads(run({"SECURE_HSTS_SECONDS": "600", "SECURE_SSL_REDIRECT": "false"})) == [False, True, True, 600]


def test_embedded_default_is_sqlite_under_var(tmp_path):
    result = _load_settings({"DEBUG": "true", "COMPOSER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert '"engine": "django.db.backends.sqlite3"' in result.stdout
