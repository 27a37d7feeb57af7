// Conversion between the spec (JSON stored by the API) and React Flow's nodes and edges.
// Spec `parent`/`slot` <-> React Flow `parentId` + data.slot; `layout` keeps positions
// relative to the parent, as React Flow does, plus group sizes.
import type { Edge, Node } from '@xyflow/react'
import type { BlockType, ModelSettings, Params, Spec, SpecNode } from '../types'
import { isGroupBlock } from './groups'

export interface BlockData extends Record<string, unknown> {
  blockType: string
  params: Params
  slot?: string
}

export type FlowNode = Node<BlockData>
export type FlowEdge = Edge

/** React Flow node types (not "group": xyflow styles that name itself). */
export const BLOCK_NODE = 'block'
export const GROUP_NODE = 'blockGroup'

export const NODE_W = 220
export const NODE_H = 64
export const GROUP_W = 460
export const GROUP_H = 260
/** The smallest a group can be resized to (or laid out at). */
export const GROUP_MIN_W = 260
export const GROUP_MIN_H = 160

/** A new graph: Input -> Output, with the model settings' defaults (GET /api/spec-schema/, see
 * editor/modelSchema.ts modelDefaults). */
export function newSpec(model: Partial<ModelSettings>): Spec {
  return {
    version: 1,
    model: { ...model } as ModelSettings,
    nodes: [{ id: 'in', type: 'input' }, { id: 'out', type: 'output' }],
    edges: [['in', 'out']],
    layout: { in: { x: 0, y: 0 }, out: { x: 0, y: 240 } },
  }
}

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`
}

export function makeEdge(source: string, target: string): FlowEdge {
  return { id: edgeId(source, target), source, target }
}

/** Parents must come before their children in React Flow's array. */
export function sortParentsFirst<T extends { id: string; parentId?: string }>(nodes: T[]): T[] {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const depth = (n: T, seen = 0): number =>
    n.parentId && byId.has(n.parentId) && seen < 50 ? 1 + depth(byId.get(n.parentId)!, seen + 1) : 0
  return nodes
    .map((n, i) => ({ n, d: depth(n), i }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.n)
}

export function specToFlow(spec: Spec, blocks: Map<string, BlockType>): { nodes: FlowNode[]; edges: FlowEdge[]; needsLayout: boolean } {
  const layout = spec.layout ?? {}
  let needsLayout = false
  const nodes: FlowNode[] = spec.nodes.map((n, i) => {
    const pos = layout[n.id]
    if (!pos) needsLayout = true
    const group = isGroupBlock(blocks.get(n.type))
    const node: FlowNode = {
      id: n.id,
      type: group ? GROUP_NODE : BLOCK_NODE,
      position: pos ? { x: pos.x, y: pos.y } : { x: 0, y: i * 100 },
      data: { blockType: n.type, params: { ...(n.params ?? {}) }, ...(n.slot ? { slot: n.slot } : {}) },
    }
    // No extent: a child can be dragged out of its group (Canvas reparents it on drop).
    if (n.parent) node.parentId = n.parent
    // A group's size is node.width/height: what React Flow draws and NodeResizer sets.
    if (group) {
      node.width = pos?.w ?? GROUP_W
      node.height = pos?.h ?? GROUP_H
    }
    return node
  })
  const edges = spec.edges.map(([s, t]) => makeEdge(s, t))
  return { nodes: sortParentsFirst(nodes), edges, needsLayout }
}

/** A group's size: node.width/height (set on load, by NodeResizer and by auto-layout). */
export function groupSize(n: FlowNode): { w: number; h: number } {
  return { w: Number(n.width ?? n.measured?.width ?? GROUP_W), h: Number(n.height ?? n.measured?.height ?? GROUP_H) }
}

function sizeOf(n: FlowNode): { w?: number; h?: number } {
  if (n.type !== GROUP_NODE) return {}
  const { w, h } = groupSize(n)
  return { w: Math.round(w), h: Math.round(h) }
}

export function flowToSpec(nodes: FlowNode[], edges: FlowEdge[], model: ModelSettings): Spec {
  const specNodes: SpecNode[] = nodes.map((n) => {
    const out: SpecNode = { id: n.id, type: n.data.blockType }
    if (n.data.params && Object.keys(n.data.params).length) out.params = { ...n.data.params }
    if (n.parentId) out.parent = n.parentId
    if (n.parentId && n.data.slot) out.slot = n.data.slot
    return out
  })
  const layout: NonNullable<Spec['layout']> = {}
  for (const n of nodes) {
    layout[n.id] = { x: Math.round(n.position.x), y: Math.round(n.position.y), ...sizeOf(n) }
  }
  return {
    version: 1,
    model: { ...model },
    nodes: specNodes,
    edges: edges.map((e) => [e.source, e.target] as [string, string]),
    layout,
  }
}

/** A fresh id for a block of this type, unique among `taken`. */
export function freshId(type: string, taken: Set<string>): string {
  const base = type.replace(/[^a-zA-Z0-9_]/g, '_')
  if (!taken.has(base)) return base
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`
}

/** Would adding source→target close a cycle? */
export function createsCycle(edges: FlowEdge[], source: string, target: string): boolean {
  if (source === target) return true
  const out = new Map<string, string[]>()
  for (const e of edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target])
  const stack = [target]
  const seen = new Set<string>()
  while (stack.length) {
    const cur = stack.pop()!
    if (cur === source) return true
    if (seen.has(cur)) continue
    seen.add(cur)
    stack.push(...(out.get(cur) ?? []))
  }
  return false
}

/** All descendants of a group (children, grandchildren...). */
export function descendants(id: string, nodes: FlowNode[]): Set<string> {
  const out = new Set<string>()
  let frontier = [id]
  while (frontier.length) {
    const next: string[] = []
    for (const n of nodes) if (n.parentId && frontier.includes(n.parentId) && !out.has(n.id)) { out.add(n.id); next.push(n.id) }
    frontier = next
  }
  return out
}

/** Default params of a block type, from its registry entry. */
export function defaultParams(block: BlockType | undefined): Params {
  const out: Params = {}
  for (const p of block?.params ?? []) out[p.name] = p.default
  return out
}
