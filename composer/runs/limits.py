"""Limits on what one user may launch: per user (runs running and queued at once) and per run.

Defaults below; a deployment overrides any of them with the setting ``COMPOSER_RUN_LIMITS``
(``composer.settings.base`` reads it from the environment variable of that name, as JSON).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from django.conf import settings


@dataclass(frozen=True)
class RunLimits:
    max_running_per_user: int = 2
    max_queued_per_user: int = 5
    max_steps: int = 20_000
    max_seconds: int = 3_600
    max_tokens: int = 2_000_000_000
    max_batch_size: int = 512
    max_params: int = 100_000_000
    # Activations kept for backward for a whole batch (the spec's per-sequence cost x batch size).
    max_activation_bytes: int = 8 * 1024**3
    # Slack added to max_seconds for the Celery soft limit (model build, evaluation, checkpoint).
    time_limit_grace_seconds: int = 60


def run_limits() -> RunLimits:
    overrides = settings.COMPOSER_RUN_LIMITS
    known = {f.name for f in fields(RunLimits)}
    return replace(RunLimits(), **{k: int(v) for k, v in overrides.items() if k in known})
