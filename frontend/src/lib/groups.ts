// Groups are a spec concept (docs/ARCHITECTURE.md, "Groups"): a node whose children carry
// `parent` (and, for some group types, `slot`). Which block types are groups, and their slots, come
// from the server (GET /api/limits/ group_slots, blocks.spec.GROUP_SLOTS): fetchBlocks puts them on
// the blocks with withGroupSlots; nothing here names them.
import type { BlockType } from '../types'

/** The blocks, each group type carrying its slots (null: the single unnamed slot) as `slots`. */
export function withGroupSlots(blocks: BlockType[], groupSlotsByType: Record<string, (string | null)[]>): BlockType[] {
  return blocks.map((b) => {
    const slots = groupSlotsByType[b.name]
    return Array.isArray(slots) && slots.length ? { ...b, slots: [...slots] } : b
  })
}

export function groupSlots(block: BlockType | undefined): (string | null)[] | null {
  if (!block) return null
  if (Array.isArray(block.slots) && block.slots.length) return block.slots
  return null
}

export function isGroupBlock(block: BlockType | undefined): boolean {
  return groupSlots(block) !== null
}

/** The singleton endpoints of the top-level graph. */
export const ENDPOINT_TYPES = ['input', 'output'] as const
export const isEndpoint = (type: string) => (ENDPOINT_TYPES as readonly string[]).includes(type)
