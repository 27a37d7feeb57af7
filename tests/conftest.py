"""Fixtures shared by every test folder. Keep this small: each area has its own conftest."""
import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True, scope="session")
def _few_torch_threads():
    """Tests use tiny tensors: extra threads only fight each other on a 2-core machine."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
