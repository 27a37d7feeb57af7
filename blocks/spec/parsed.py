"""The parsed form of a valid spec, shared by the validator and the compiler: nodes with their
resolved params, and each scope's DAG in topological order."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

from blocks.library.structural.merge import MERGE_INPUTS_KEY
from blocks.registry import BlockType
from blocks.spec.format import GROUP_SLOTS


@dataclass
class SpecNode:
    id: str
    type: str
    entry: BlockType | None
    params: dict  # defaults overlaid with the given params
    parent: str | None
    slot: str | None
    params_ok: bool = True
    in_graph: bool = True  # False when its parent/slot is broken: left out of graph checks
    given: dict = dataclass_field(default_factory=dict)  # the params the spec itself gives

    @property
    def scope(self) -> tuple[str | None, str | None]:
        return (self.parent, self.slot)

    @property
    def is_group(self) -> bool:
        return self.type in GROUP_SLOTS

    def build_params(self, num_inputs: int) -> dict:
        """Params for the entry's build/cost, plus the in-degree a merge needs."""
        return {**self.params, MERGE_INPUTS_KEY: num_inputs} if self.type == "merge" else dict(self.params)


@dataclass
class Scope:
    """One DAG: the top level (owner None) or one slot of a group."""

    owner: str | None
    slot: str | None
    order: list[str]  # topological
    inputs: dict[str, list[str]]  # node -> predecessors, in edge order
    source: str
    sink: str


@dataclass
class ParsedSpec:
    model: dict
    nodes: dict[str, SpecNode]
    scopes: dict[tuple[str | None, str | None], Scope]
    normalised: dict

    def scope_of_group(self, group_id: str, slot: str | None) -> Scope | None:
        return self.scopes.get((group_id, slot))
