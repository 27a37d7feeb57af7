"""Every block type, one module per family; importing this package registers them all."""
from blocks.library import (  # noqa: F401
    attention,
    convolution,
    hierarchy,
    memory,
    mlp,
    moe,
    recurrent,
    ssm,
    structural,
)
