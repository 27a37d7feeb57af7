// Where nodes are on the canvas, in flow coordinates: their sizes (a group's is node.width/height,
// what React Flow draws and NodeResizer sets), absolute positions, which group holds a point, and
// groups grown to hold their children.
import type { BlockType } from '../types'
import { groupSlots } from './groups'
import { GROUP_NODE, NODE_H, NODE_W, groupSize, type FlowNode } from './specflow'

export interface Size { w: number; h: number }
export interface Point { x: number; y: number }

/** Padding kept between a group's border and its children when it grows to hold them. */
export const GROUP_PAD = 16
/** A group's title bar: children start below it. */
export const GROUP_HEAD = 40

/** The size React Flow draws: a group's width/height, a block's measured size (an estimate until measured). */
export function nodeSize(n: FlowNode): Size {
  if (n.type === GROUP_NODE) return groupSize(n)
  return { w: n.measured?.width ?? n.width ?? NODE_W, h: n.measured?.height ?? n.height ?? NODE_H }
}

/** Absolute position of a node, summing its parents' positions. */
export function absolutePosition(node: FlowNode, byId: Map<string, FlowNode>): Point {
  let x = node.position.x
  let y = node.position.y
  let p = node.parentId ? byId.get(node.parentId) : undefined
  let guard = 0
  while (p && guard++ < 50) {
    x += p.position.x
    y += p.position.y
    p = p.parentId ? byId.get(p.parentId) : undefined
  }
  return { x, y }
}

export function centreOf(node: FlowNode, byId: Map<string, FlowNode>): Point {
  const abs = absolutePosition(node, byId)
  const { w, h } = nodeSize(node)
  return { x: abs.x + w / 2, y: abs.y + h / 2 }
}

export interface GroupHit { group: FlowNode; abs: Point; slot?: string }

/** The innermost group whose box contains an absolute point (groups in `skip` excluded), and the
 * slot lane under the point (lanes split the group's width evenly, in slot order). */
export function groupAt(point: Point, nodes: FlowNode[], blocks: Map<string, BlockType>, skip: Set<string> = new Set()): GroupHit | null {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  let best: { node: FlowNode; depth: number; abs: Point } | null = null
  for (const n of nodes) {
    if (n.type !== GROUP_NODE || skip.has(n.id)) continue
    const abs = absolutePosition(n, byId)
    const { w, h } = nodeSize(n)
    if (point.x >= abs.x && point.x <= abs.x + w && point.y >= abs.y && point.y <= abs.y + h) {
      let depth = 0
      for (let p = n.parentId; p; p = byId.get(p)?.parentId) depth++
      if (!best || depth > best.depth) best = { node: n, depth, abs }
    }
  }
  if (!best) return null
  const slots = groupSlots(blocks.get(best.node.data.blockType)) ?? [null]
  const { w } = nodeSize(best.node)
  const lane = Math.min(slots.length - 1, Math.max(0, Math.floor(((point.x - best.abs.x) / w) * slots.length)))
  return { group: best.node, abs: best.abs, slot: slots[lane] ?? undefined }
}

/** Grow each group in `ids` (and then its ancestors) until its box holds its children with
 * GROUP_PAD to spare (below the title bar); a child past the left or top edge moves the group
 * instead, the children keeping their place on the canvas. Groups never shrink here. */
export function growGroupsToFit(nodes: FlowNode[], ids: Iterable<string>): FlowNode[] {
  let out = nodes
  const todo = [...ids]
  for (let guard = 0; todo.length && guard < 10_000; guard++) {
    const id = todo.shift()!
    const group = out.find((n) => n.id === id)
    if (!group || group.type !== GROUP_NODE) continue
    const children = out.filter((n) => n.parentId === id)
    if (children.length) {
      const size = nodeSize(group)
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
      for (const c of children) {
        const s = nodeSize(c)
        minX = Math.min(minX, c.position.x); minY = Math.min(minY, c.position.y)
        maxX = Math.max(maxX, c.position.x + s.w); maxY = Math.max(maxY, c.position.y + s.h)
      }
      const dx = Math.max(0, GROUP_PAD - minX)
      const dy = Math.max(0, GROUP_HEAD - minY)
      const w = Math.max(size.w + dx, maxX + dx + GROUP_PAD)
      const h = Math.max(size.h + dy, maxY + dy + GROUP_PAD)
      if (dx || dy || w !== size.w || h !== size.h) {
        out = out.map((n) => {
          if (n.id === id) return { ...n, position: { x: n.position.x - dx, y: n.position.y - dy }, width: w, height: h }
          if (n.parentId === id && (dx || dy)) return { ...n, position: { x: n.position.x + dx, y: n.position.y + dy } }
          return n
        })
      }
    }
    if (group.parentId) todo.push(group.parentId)
  }
  return out
}
