"""The positions param the memory entries share; plain Python."""
from __future__ import annotations

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.registry import Param


POSITION_PARAM = Param("position", "choice", "rope", "Position code: rotary (RoPE, relative) or none.",
                       choices=ROTARY_POSITIONS)
