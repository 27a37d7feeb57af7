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

export const DEFAULT_MODEL: ModelSettings = {
  d_model: 128, max_seq_len: 512, norm: 'rmsnorm', tie_embeddings: true, allow_noncausal: false,
}

/** React Flow node types (not "group": xyflow styles that name itself). */
export const BLOCK_NODE = 'block'
export const GROUP_NODE = 'blockGroup'

export const NODE_W = 220
export const NODE_H = 64
export const GROUP_W = 460
export const GROUP_H = 260

export function newSpec(): Spec {
  return {
    version: 1,
    model: { ...DEFAULT_MODEL },
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
    if (n.parent) {
      node.parentId = n.parent
      node.extent = 'parent'
    }
    if (group) {
      node.style = { width: pos?.w ?? GROUP_W, height: pos?.h ?? GROUP_H }
    }
    return node
  })
  const edges = spec.edges.map(([s, t]) => makeEdge(s, t))
  return { nodes: sortParentsFirst(nodes), edges, needsLayout }
}

function sizeOf(n: FlowNode): { w?: number; h?: number } {
  const w = Number(n.style?.width ?? n.measured?.width ?? n.width)
  const h = Number(n.style?.height ?? n.measured?.height ?? n.height)
  return n.type === GROUP_NODE ? { w: Math.round(w || GROUP_W), h: Math.round(h || GROUP_H) } : {}
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

/** Absolute position of a node, summing its parents' positions. */
export function absolutePosition(node: FlowNode, byId: Map<string, FlowNode>): { x: number; y: number } {
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
