// The editor's one store: the graph being edited, history, clipboard and validation.
import {
  applyEdgeChanges, applyNodeChanges, type Connection, type EdgeChange, type NodeChange,
} from '@xyflow/react'
import { create } from 'zustand'
import type { BlockType, CostSummary, ModelSettings, Params, Spec, SpecError, Visibility } from '../types'
import { groupSlots, isEndpoint, isGroupBlock } from '../lib/groups'
import {
  BLOCK_NODE, DEFAULT_MODEL, GROUP_H, GROUP_NODE, GROUP_W, NODE_H, NODE_W, absolutePosition, createsCycle, defaultParams,
  descendants, flowToSpec, freshId, makeEdge, sortParentsFirst, specToFlow,
  type FlowEdge, type FlowNode,
} from '../lib/specflow'

export interface GraphMeta {
  id: string | number | null
  name: string
  description: string
  visibility: Visibility
  version: number | null
  canEdit: boolean
  owner: string
}

interface Snapshot { nodes: FlowNode[]; edges: FlowEdge[]; model: ModelSettings }

export interface EditorState {
  blocks: Map<string, BlockType>
  nodes: FlowNode[]
  edges: FlowEdge[]
  model: ModelSettings
  meta: GraphMeta
  /** Increments on every change to the spec (not on selection). */
  rev: number
  savedRev: number
  past: Snapshot[]
  future: Snapshot[]
  clipboard: { nodes: FlowNode[]; edges: FlowEdge[] } | null
  errors: SpecError[]
  errorsByNode: Record<string, SpecError[]>
  cost: CostSummary | null
  validating: boolean

  setBlocks: (list: BlockType[]) => void
  load: (spec: Spec, meta: Partial<GraphMeta>, opts?: { dirty?: boolean }) => boolean
  spec: () => Spec
  checkpoint: () => void
  onNodesChange: (changes: NodeChange<FlowNode>[]) => void
  onEdgesChange: (changes: EdgeChange<FlowEdge>[]) => void
  connect: (c: Connection) => void
  canConnect: (c: { source: string | null; target: string | null }) => boolean
  addBlock: (type: string, at: { x: number; y: number }) => string | null
  updateParams: (id: string, patch: Params) => void
  setSlot: (id: string, slot: string) => void
  setModel: (patch: Partial<ModelSettings>) => void
  reparent: (id: string) => void
  deleteSelected: () => void
  copy: () => void
  paste: () => void
  selectAll: () => void
  undo: () => void
  redo: () => void
  setPositions: (pos: Record<string, { x: number; y: number; w?: number; h?: number }>) => void
  setMeta: (meta: Partial<GraphMeta>) => void
  markSaved: () => void
  setValidation: (v: { errors: SpecError[]; cost: CostSummary | null } | null, validating?: boolean) => void
}

const HISTORY_LIMIT = 100

const emptyMeta: GraphMeta = {
  id: null, name: 'Untitled architecture', description: '', visibility: 'private', version: null, canEdit: true, owner: '',
}

function groupErrors(errors: SpecError[]): Record<string, SpecError[]> {
  const out: Record<string, SpecError[]> = {}
  for (const e of errors) if (e.node_id) (out[e.node_id] ??= []).push(e)
  return out
}

/** Which group (innermost) and slot contains an absolute point, excluding `skip`. */
function groupAt(point: { x: number; y: number }, nodes: FlowNode[], blocks: Map<string, BlockType>, skip: Set<string>) {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  let best: { node: FlowNode; depth: number; abs: { x: number; y: number } } | null = null
  for (const n of nodes) {
    if (n.type !== GROUP_NODE || skip.has(n.id)) continue
    const abs = absolutePosition(n, byId)
    const w = Number(n.style?.width ?? GROUP_W)
    const h = Number(n.style?.height ?? GROUP_H)
    if (point.x >= abs.x && point.x <= abs.x + w && point.y >= abs.y && point.y <= abs.y + h) {
      let depth = 0
      for (let p = n.parentId; p; p = byId.get(p)?.parentId) depth++
      if (!best || depth > best.depth) best = { node: n, depth, abs }
    }
  }
  if (!best) return null
  const slots = groupSlots(blocks.get(best.node.data.blockType)) ?? [null]
  const w = Number(best.node.style?.width ?? GROUP_W)
  const lane = Math.min(slots.length - 1, Math.max(0, Math.floor(((point.x - best.abs.x) / w) * slots.length)))
  return { group: best.node, abs: best.abs, slot: slots[lane] ?? undefined }
}

export const useEditor = create<EditorState>()((set, get) => {
  /** Record the current graph for undo, then apply a change that bumps the revision. */
  const commit = (next: Partial<EditorState>) => {
    const s = get()
    set({
      ...next,
      past: [...s.past, { nodes: s.nodes, edges: s.edges, model: s.model }].slice(-HISTORY_LIMIT),
      future: [],
      rev: s.rev + 1,
    })
  }

  return {
    blocks: new Map(),
    nodes: [],
    edges: [],
    model: { ...DEFAULT_MODEL },
    meta: emptyMeta,
    rev: 0,
    savedRev: 0,
    past: [],
    future: [],
    clipboard: null,
    errors: [],
    errorsByNode: {},
    cost: null,
    validating: false,

    setBlocks: (list) => set({ blocks: new Map(list.map((b) => [b.name, b])) }),

    load: (spec, meta, opts) => {
      const { nodes, edges, needsLayout } = specToFlow(spec, get().blocks)
      const rev = get().rev + 1
      set({
        nodes, edges,
        model: { ...DEFAULT_MODEL, ...(spec.model ?? {}) },
        meta: { ...emptyMeta, ...meta },
        past: [], future: [], rev, savedRev: opts?.dirty ? rev - 1 : rev,
        errors: [], errorsByNode: {}, cost: null,
      })
      return needsLayout
    },

    spec: () => {
      const s = get()
      return flowToSpec(s.nodes, s.edges, s.model)
    },

    checkpoint: () => {
      const s = get()
      set({ past: [...s.past, { nodes: s.nodes, edges: s.edges, model: s.model }].slice(-HISTORY_LIMIT), future: [] })
    },

    onNodesChange: (changes) => {
      const s = get()
      const removes = changes.filter((c) => c.type === 'remove')
      if (removes.length) {
        // Never delete the graph's endpoints; deleting a group deletes its contents.
        const ids = new Set<string>()
        for (const c of removes) {
          const n = s.nodes.find((x) => x.id === c.id)
          if (!n || isEndpoint(n.data.blockType)) continue
          ids.add(n.id)
          descendants(n.id, s.nodes).forEach((d) => ids.add(d))
        }
        const rest = changes.filter((c) => c.type !== 'remove')
        commit({
          nodes: applyNodeChanges(rest, s.nodes.filter((n) => !ids.has(n.id))),
          edges: s.edges.filter((e) => !ids.has(e.source) && !ids.has(e.target)),
        })
        return
      }
      const moved = changes.some((c) => (c.type === 'position' && c.position) || (c.type === 'dimensions' && c.resizing))
      const nodes = applyNodeChanges(changes, s.nodes)
      set(moved ? { nodes, rev: s.rev + 1 } : { nodes })
    },

    onEdgesChange: (changes) => {
      const s = get()
      const edges = applyEdgeChanges(changes, s.edges)
      if (changes.some((c) => c.type === 'remove' || c.type === 'add')) commit({ edges })
      else set({ edges })
    },

    canConnect: ({ source, target }) => {
      if (!source || !target || source === target) return false
      const { nodes, edges } = get()
      const a = nodes.find((n) => n.id === source)
      const b = nodes.find((n) => n.id === target)
      if (!a || !b) return false
      // Edges never cross a group boundary (same parent and slot).
      if ((a.parentId ?? '') !== (b.parentId ?? '')) return false
      if ((a.data.slot ?? '') !== (b.data.slot ?? '')) return false
      if (edges.some((e) => e.source === source && e.target === target)) return false
      return !createsCycle(edges, source, target)
    },

    connect: (c) => {
      if (!get().canConnect(c)) return
      commit({ edges: [...get().edges, makeEdge(c.source!, c.target!)] })
    },

    addBlock: (type, at) => {
      const s = get()
      const block = s.blocks.get(type)
      if (!block) return null
      if (isEndpoint(type) && s.nodes.some((n) => n.data.blockType === type)) return null
      const taken = new Set(s.nodes.map((n) => n.id))
      const id = freshId(type, taken)
      const group = isGroupBlock(block)
      const hit = isEndpoint(type) ? null : groupAt(at, s.nodes, s.blocks, new Set())
      const node: FlowNode = {
        id,
        type: group ? GROUP_NODE : BLOCK_NODE,
        position: hit ? { x: at.x - hit.abs.x, y: at.y - hit.abs.y } : { x: at.x - NODE_W / 2, y: at.y - NODE_H / 2 },
        data: { blockType: type, params: defaultParams(block), ...(hit?.slot ? { slot: hit.slot } : {}) },
        selected: true,
        ...(group ? { style: { width: GROUP_W, height: GROUP_H } } : {}),
        ...(hit ? { parentId: hit.group.id, extent: 'parent' as const } : {}),
      }
      commit({ nodes: sortParentsFirst([...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node]) })
      return id
    },

    updateParams: (id, patch) => {
      const s = get()
      commit({
        nodes: s.nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, params: { ...n.data.params, ...patch } } } : n)),
      })
    },

    setSlot: (id, slot) => {
      const s = get()
      commit({
        nodes: s.nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, slot } } : n)),
        // edges to nodes now in another slot would cross a boundary
        edges: s.edges.filter((e) => e.source !== id && e.target !== id),
      })
    },

    setModel: (patch) => commit({ model: { ...get().model, ...patch } }),

    reparent: (id) => {
      const s = get()
      const node = s.nodes.find((n) => n.id === id)
      if (!node || isEndpoint(node.data.blockType)) return
      const byId = new Map(s.nodes.map((n) => [n.id, n]))
      const abs = absolutePosition(node, byId)
      const w = node.type === GROUP_NODE ? Number(node.style?.width ?? GROUP_W) : (node.measured?.width ?? NODE_W)
      const h = node.type === GROUP_NODE ? Number(node.style?.height ?? GROUP_H) : (node.measured?.height ?? NODE_H)
      const center = { x: abs.x + w / 2, y: abs.y + h / 2 }
      const skip = descendants(id, s.nodes)
      skip.add(id)
      const hit = groupAt(center, s.nodes, s.blocks, skip)
      const newParent = hit?.group.id
      const newSlot = hit?.slot
      if ((newParent ?? '') === (node.parentId ?? '') && (newSlot ?? '') === (node.data.slot ?? '')) return
      const position = hit ? { x: abs.x - hit.abs.x, y: abs.y - hit.abs.y } : abs
      const moved: FlowNode = {
        ...node,
        position,
        parentId: newParent,
        extent: newParent ? 'parent' : undefined,
        data: { ...node.data, slot: newSlot },
      }
      if (!newParent) delete moved.parentId
      if (!newSlot) delete moved.data.slot
      commit({
        nodes: sortParentsFirst(s.nodes.map((n) => (n.id === id ? moved : n))),
        edges: s.edges.filter((e) => e.source !== id && e.target !== id),
      })
    },

    deleteSelected: () => {
      const s = get()
      const ids = new Set<string>()
      for (const n of s.nodes) {
        if (!n.selected || isEndpoint(n.data.blockType)) continue
        ids.add(n.id)
        descendants(n.id, s.nodes).forEach((d) => ids.add(d))
      }
      const edgesLeft = s.edges.filter((e) => !e.selected && !ids.has(e.source) && !ids.has(e.target))
      if (!ids.size && edgesLeft.length === s.edges.length) return
      commit({ nodes: s.nodes.filter((n) => !ids.has(n.id)), edges: edgesLeft })
    },

    copy: () => {
      const s = get()
      const ids = new Set(s.nodes.filter((n) => n.selected && !isEndpoint(n.data.blockType)).map((n) => n.id))
      for (const id of [...ids]) descendants(id, s.nodes).forEach((d) => ids.add(d))
      if (!ids.size) return
      set({
        clipboard: {
          nodes: s.nodes.filter((n) => ids.has(n.id)),
          edges: s.edges.filter((e) => ids.has(e.source) && ids.has(e.target)),
        },
      })
    },

    paste: () => {
      const s = get()
      if (!s.clipboard) return
      const taken = new Set(s.nodes.map((n) => n.id))
      const rename = new Map<string, string>()
      for (const n of s.clipboard.nodes) {
        const id = freshId(n.data.blockType, taken)
        taken.add(id)
        rename.set(n.id, id)
      }
      const pasted: FlowNode[] = s.clipboard.nodes.map((n) => {
        const keepParent = n.parentId && rename.has(n.parentId)
        const parentExists = n.parentId && s.nodes.some((x) => x.id === n.parentId)
        const parentId = keepParent ? rename.get(n.parentId!) : parentExists ? n.parentId : undefined
        const copy: FlowNode = {
          ...n,
          id: rename.get(n.id)!,
          selected: true,
          position: keepParent ? n.position : { x: n.position.x + 40, y: n.position.y + 40 },
          data: { ...n.data, params: { ...n.data.params } },
          parentId,
          extent: parentId ? 'parent' : undefined,
        }
        if (!parentId) { delete copy.parentId; delete copy.extent }
        return copy
      })
      const edges = s.clipboard.edges.map((e) => makeEdge(rename.get(e.source)!, rename.get(e.target)!))
      commit({
        nodes: sortParentsFirst([...s.nodes.map((n) => ({ ...n, selected: false })), ...pasted]),
        edges: [...s.edges, ...edges],
      })
    },

    selectAll: () => set({ nodes: get().nodes.map((n) => ({ ...n, selected: true })) }),

    undo: () => {
      const s = get()
      const prev = s.past[s.past.length - 1]
      if (!prev) return
      set({
        ...prev,
        past: s.past.slice(0, -1),
        future: [{ nodes: s.nodes, edges: s.edges, model: s.model }, ...s.future],
        rev: s.rev + 1,
      })
    },

    redo: () => {
      const s = get()
      const next = s.future[0]
      if (!next) return
      set({
        ...next,
        past: [...s.past, { nodes: s.nodes, edges: s.edges, model: s.model }],
        future: s.future.slice(1),
        rev: s.rev + 1,
      })
    },

    setPositions: (pos) => {
      const s = get()
      commit({
        nodes: s.nodes.map((n) => {
          const p = pos[n.id]
          if (!p) return n
          const out: FlowNode = { ...n, position: { x: p.x, y: p.y } }
          if (n.type === GROUP_NODE && p.w && p.h) out.style = { ...n.style, width: p.w, height: p.h }
          return out
        }),
      })
    },

    setMeta: (meta) => set({ meta: { ...get().meta, ...meta } }),
    markSaved: () => set({ savedRev: get().rev }),
    setValidation: (v, validating = false) =>
      set(v ? { errors: v.errors, errorsByNode: groupErrors(v.errors), cost: v.cost ?? get().cost, validating } : { validating }),
  }
})

export const isDirty = (s: EditorState) => s.rev !== s.savedRev
