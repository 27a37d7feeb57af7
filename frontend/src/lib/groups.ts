// Groups are a spec concept (docs/ARCHITECTURE.md, "Groups"): a node whose children carry
// `parent` (and, for some group types, `slot`). The registry may declare a block's slots;
// until it does, the spec's two group types are described here, in this one place.
import type { BlockType } from '../types'

const SPEC_GROUP_SLOTS: Record<string, (string | null)[]> = {
  repeat: [null],
  chunk: ['local', 'global'],
}

export function groupSlots(block: BlockType | undefined): (string | null)[] | null {
  if (!block) return null
  if (Array.isArray(block.slots) && block.slots.length) return block.slots
  return SPEC_GROUP_SLOTS[block.name] ?? null
}

export function isGroupBlock(block: BlockType | undefined): boolean {
  return groupSlots(block) !== null
}

/** The singleton endpoints of the top-level graph. */
export const ENDPOINT_TYPES = ['input', 'output'] as const
export const isEndpoint = (type: string) => (ENDPOINT_TYPES as readonly string[]).includes(type)
