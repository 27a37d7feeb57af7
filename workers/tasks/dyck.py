"""Dyck languages: balanced brackets of several types, a hierarchical task.

Each sequence is a random well-nested string of ``seq_len`` brackets drawn from
``num_bracket_types`` pairs, never deeper than ``max_depth``. Two targets:

- ``closing``: wherever the next token is a closing bracket, predict which one
  (it is forced by the innermost open bracket, however far back that is);
- ``depth``: after every token, predict the nesting depth (as a class id 0..max_depth).

Both need a stack-like memory of nested structure, which is what chunked and
hierarchical blocks are meant to provide.

Tokens: 0 is unused (padding), opening bracket i is 1 + i, closing bracket i is
1 + num_bracket_types + i.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.dyck_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, too_few_examples


NAME = "dyck"

PARAMS = (
    Param("seq_len", "int", 64, "brackets per sequence (even: every bracket is closed)", min=8, max=8192),
    Param("num_bracket_types", "int", 2, "kinds of bracket pairs", min=1, max=16),
    Param("max_depth", "int", 8, "deepest allowed nesting", min=1, max=256),
    Param("open_probability", "float", 0.5, "chance to open rather than close when both are allowed",
          min=0.05, max=0.95),
    Param("target", "choice", "closing", "predict the closing bracket, or the depth after each token",
          choices=("closing", "depth")),
    TRAIN_EXAMPLES,
)


def vocab_size(params: dict) -> int:
    brackets = 1 + 2 * params["num_bracket_types"]
    return max(brackets, params["max_depth"] + 1) if params["target"] == "depth" else brackets


def check(params: dict) -> list[tuple[str, str]]:
    problems = []
    if params["seq_len"] % 2:
        problems.append(("seq_len", f"must be even so every bracket can close, got {params['seq_len']}"))
    if params["max_depth"] > params["seq_len"] // 2:
        problems.append(("max_depth", f"must be <= seq_len / 2 = {params['seq_len'] // 2}"))
    if not problems:
        seq_len, kinds, depth = params["seq_len"], params["num_bracket_types"], params["max_depth"]
        problems += too_few_examples(
            "max_depth", distinct_sequences(seq_len, kinds, depth),
            f"seq_len {seq_len}, {kinds} bracket type(s) and max_depth {depth}",
            "raise max_depth, seq_len or num_bracket_types")
    return problems


def distinct_sequences(seq_len: int, kinds: int, max_depth: int, cap: int = MIN_DISTINCT_EXAMPLES) -> int:
    """How many balanced strings of ``seq_len`` brackets of ``kinds`` types nest at most
    ``max_depth`` deep (depth-bounded Dyck paths, times a kind per pair), or ``cap`` if more:
    counts saturate at ``cap`` so long sequences cost no big-number arithmetic."""
    kind_choices = min(cap, kinds ** min(seq_len // 2, cap.bit_length()))
    paths = [1] + [0] * max_depth  # paths[d]: ways to stand at depth d after the steps so far
    for step in range(seq_len):
        if step % 2 == 0 and paths[0] * kind_choices >= cap:
            return cap  # closed paths only grow with length (prepend "()"): enough already
        paths = [min(cap, (paths[d - 1] if d else 0) + (paths[d + 1] if d < max_depth else 0))
                 for d in range(max_depth + 1)]
    return min(cap, paths[0] * kind_choices)


TASK = register(TaskType(
    name=NAME,
    title="Dyck (balanced brackets)",
    description="Nested brackets of several kinds: predict each closing bracket, or the nesting depth. "
                "Exercises hierarchical and chunked blocks.",
    paper="Hewitt et al. 2020, RNNs can generate bounded hierarchical languages with optimal memory",
    params=PARAMS,
    vocab_size=vocab_size,
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.dyck_data.make_batch",
    check=check,
    tags=("hierarchy", "synthetic"),
))
