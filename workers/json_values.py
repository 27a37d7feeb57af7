"""JSON for numbers that may not be finite: metrics of a diverged run hold NaN or infinity."""
from __future__ import annotations

import math


def json_safe(value):
    """``value`` with every NaN or infinity replaced by None.

    A diverged run reports a NaN loss; JSON has no NaN (browsers' ``JSON.parse`` and the
    databases' JSON columns refuse it), so it is stored and sent as null.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value
