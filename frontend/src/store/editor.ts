// The editor's one store: the graph being edited, history, clipboard and validation.
import {
  applyEdgeChanges, applyNodeChanges, type Connection, type EdgeChange, type NodeChange,
} from '@xyflow/react'
import { create } from 'zustand'
import type { BlockType, CostSummary, ModelSettings, Params, Spec, SpecError, Visibility } from '../types'
import { connectionProblem, orient, type Ends } from '../lib/connections'
import { absolutePosition, centreOf, groupAt, growGroupsToFit, nodeSize, type Point } from '../lib/geometry'
import { isEndpoint, isGroupBlock } from '../lib/groups'
import {
  BLOCK_NODE, GROUP_H, GROUP_NODE, GROUP_W, NODE_H, NODE_W, defaultParams,
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
  /** The model settings' defaults, from the spec schema the server serves (editor/modelSchema.ts). */
  modelDefaults: Partial<ModelSettings>
  meta: GraphMeta
  /** Increments on every change to the spec (not on selection). */
  rev: number
  savedRev: number
  past: Snapshot[]
  future: Snapshot[]
  clipboard: { nodes: FlowNode[]; edges: FlowEdge[] } | null
  /** The last validation's answer, for the graph at revision validatedRev (null: none yet). */
  errors: SpecError[]
  errorsByNode: Record<string, SpecError[]>
  /** Its cost: null when that graph was invalid. */
  cost: CostSummary | null
  /** The cost of the last valid graph, shown greyed while the graph is invalid. */
  lastCost: CostSummary | null
  validatedRev: number | null
  validating: boolean
  /** Why the last validation request failed (network, server), or null. */
  validationError: string | null
  /** The group a dragged node or palette block would land in, highlighted while dragging. */
  dropTarget: string | null
  /** Blocks just dropped, by id: the flow point their centre goes to once React Flow has measured them. */
  pendingCentre: Record<string, Point>

  setBlocks: (list: BlockType[]) => void
  load: (spec: Spec, meta: Partial<GraphMeta>, opts?: { dirty?: boolean }) => boolean
  spec: () => Spec
  checkpoint: () => void
  onNodesChange: (changes: NodeChange<FlowNode>[]) => void
  onEdgesChange: (changes: EdgeChange<FlowEdge>[]) => void
  connect: (c: Connection) => void
  /** Why this connection (as React Flow reports it, see lib/connections orient) cannot be made, or null. */
  connectionProblem: (c: Ends) => string | null
  /** Add a block with its centre at `at` (flow coordinates), inside the group there if any. */
  addBlock: (type: string, at: Point) => string | null
  updateParams: (id: string, patch: Params) => void
  setSlot: (id: string, slot: string) => void
  setModel: (patch: Partial<ModelSettings>) => void
  /** After a drag: the nodes whose centre is now in another group (or none) move into it. */
  reparent: (ids: string[]) => void
  /** The group a node dragged now would land in (null: the top level). */
  dropTargetFor: (id: string) => string | null
  setDropTarget: (id: string | null) => void
  /** After a resize: the group grows back to hold its children. */
  resizeEnd: (id: string) => void
  deleteSelected: () => void
  copy: () => void
  paste: () => void
  selectAll: () => void
  undo: () => void
  redo: () => void
  setPositions: (pos: Record<string, { x: number; y: number; w?: number; h?: number }>) => void
  setMeta: (meta: Partial<GraphMeta>) => void
  setModelDefaults: (model: Partial<ModelSettings>) => void
  markSaved: () => void
  /** The server's answer for the graph at revision `rev`. */
  setValidation: (v: { errors: SpecError[]; cost: CostSummary | null }, rev: number) => void
  setValidating: (validating: boolean, error?: string) => void
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
    model: {} as ModelSettings,
    modelDefaults: {},
    meta: emptyMeta,
    rev: 0,
    savedRev: 0,
    past: [],
    future: [],
    clipboard: null,
    errors: [],
    errorsByNode: {},
    cost: null,
    lastCost: null,
    validatedRev: null,
    validating: false,
    validationError: null,
    dropTarget: null,
    pendingCentre: {},

    setBlocks: (list) => set({ blocks: new Map(list.map((b) => [b.name, b])) }),

    load: (spec, meta, opts) => {
      const { nodes, edges, needsLayout } = specToFlow(spec, get().blocks)
      const rev = get().rev + 1
      set({
        nodes, edges,
        model: { ...get().modelDefaults, ...(spec.model ?? {}) } as ModelSettings,
        meta: { ...emptyMeta, ...meta },
        past: [], future: [], rev, savedRev: opts?.dirty ? rev - 1 : rev,
        errors: [], errorsByNode: {}, cost: null, lastCost: null, validatedRev: null, validationError: null,
        dropTarget: null, pendingCentre: {},
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
      let moved = changes.some((c) => (c.type === 'position' && c.position) || (c.type === 'dimensions' && c.resizing))
      let nodes = applyNodeChanges(changes, s.nodes)
      // A block just dropped is measured now: put its centre exactly under the pointer it was dropped at.
      const measured = changes.filter((c) => c.type === 'dimensions' && c.dimensions && s.pendingCentre[c.id])
      let pendingCentre = s.pendingCentre
      if (measured.length) {
        pendingCentre = { ...s.pendingCentre }
        const parents = new Set<string>()
        for (const c of measured) {
          const id = (c as { id: string }).id
          const at = pendingCentre[id]
          delete pendingCentre[id]
          const byId = new Map(nodes.map((n) => [n.id, n]))
          const node = byId.get(id)
          if (!node) continue
          const parent = node.parentId ? byId.get(node.parentId) : undefined
          const origin = parent ? absolutePosition(parent, byId) : { x: 0, y: 0 }
          const { w, h } = nodeSize(node)
          nodes = nodes.map((n) => (n.id === id ? { ...n, position: { x: at.x - w / 2 - origin.x, y: at.y - h / 2 - origin.y } } : n))
          if (parent) parents.add(parent.id)
        }
        nodes = growGroupsToFit(nodes, parents)
        moved = true
      }
      set(moved ? { nodes, pendingCentre, rev: s.rev + 1 } : { nodes })
    },

    onEdgesChange: (changes) => {
      const s = get()
      const edges = applyEdgeChanges(changes, s.edges)
      if (changes.some((c) => c.type === 'remove' || c.type === 'add')) commit({ edges })
      else set({ edges })
    },

    connectionProblem: (c) => {
      const s = get()
      return connectionProblem(orient(c), s.nodes, s.edges, s.blocks)
    },

    connect: (c) => {
      const s = get()
      const edge = orient(c)
      if (connectionProblem(edge, s.nodes, s.edges, s.blocks)) return
      commit({ edges: [...s.edges, makeEdge(edge.source!, edge.target!)] })
    },

    addBlock: (type, at) => {
      const s = get()
      const block = s.blocks.get(type)
      if (!block) return null
      if (isEndpoint(type) && s.nodes.some((n) => n.data.blockType === type)) return null
      const taken = new Set(s.nodes.map((n) => n.id))
      const id = freshId(type, taken)
      const group = isGroupBlock(block)
      const hit = isEndpoint(type) ? null : groupAt(at, s.nodes, s.blocks)
      // A block's height is known once React Flow measures it (onNodesChange then re-centres it).
      const w = group ? GROUP_W : NODE_W
      const h = group ? GROUP_H : NODE_H
      const origin = hit ? hit.abs : { x: 0, y: 0 }
      const node: FlowNode = {
        id,
        type: group ? GROUP_NODE : BLOCK_NODE,
        position: { x: at.x - w / 2 - origin.x, y: at.y - h / 2 - origin.y },
        data: { blockType: type, params: defaultParams(block), ...(hit?.slot ? { slot: hit.slot } : {}) },
        selected: true,
        ...(group ? { width: w, height: h } : {}),
        ...(hit ? { parentId: hit.group.id } : {}),
      }
      const nodes = sortParentsFirst([...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node])
      commit({
        nodes: hit ? growGroupsToFit(nodes, [hit.group.id]) : nodes,
        pendingCentre: group ? s.pendingCentre : { ...s.pendingCentre, [id]: at },
        dropTarget: null,
      })
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

    dropTargetFor: (id) => {
      const s = get()
      const node = s.nodes.find((n) => n.id === id)
      if (!node || isEndpoint(node.data.blockType)) return null
      const skip = descendants(id, s.nodes)
      skip.add(id)
      return groupAt(centreOf(node, new Map(s.nodes.map((n) => [n.id, n]))), s.nodes, s.blocks, skip)?.group.id ?? null
    },

    setDropTarget: (id) => { if (get().dropTarget !== id) set({ dropTarget: id }) },

    reparent: (ids) => {
      const s = get()
      const dragged = new Set(ids)
      let nodes = s.nodes
      let edges = s.edges
      const grow = new Set<string>()
      for (const id of ids) {
        const node = nodes.find((n) => n.id === id)
        // Endpoints stay top-level; a node dragged with its group stays in it.
        if (!node || isEndpoint(node.data.blockType) || (node.parentId && dragged.has(node.parentId))) continue
        const byId = new Map(nodes.map((n) => [n.id, n]))
        const skip = descendants(id, nodes)
        skip.add(id)
        const hit = groupAt(centreOf(node, byId), nodes, s.blocks, skip)
        const newParent = hit?.group.id
        if ((newParent ?? '') === (node.parentId ?? '')) {
          // Moved within its group (its slot is kept: the inspector changes it).
          if (newParent) grow.add(newParent)
          continue
        }
        const abs = absolutePosition(node, byId)
        const moved: FlowNode = {
          ...node,
          position: hit ? { x: abs.x - hit.abs.x, y: abs.y - hit.abs.y } : abs,
          data: { ...node.data, slot: hit?.slot },
        }
        if (newParent) moved.parentId = newParent
        else delete moved.parentId
        delete moved.extent
        if (!hit?.slot) delete moved.data.slot
        nodes = sortParentsFirst(nodes.map((n) => (n.id === id ? moved : n)))
        // Its edges would cross the group's border.
        edges = edges.filter((e) => e.source !== id && e.target !== id)
        if (newParent) grow.add(newParent)
      }
      nodes = growGroupsToFit(nodes, grow)
      // The drag's start was the undo checkpoint (Canvas onNodeDragStart).
      if (nodes !== s.nodes || edges !== s.edges) set({ nodes, edges, rev: s.rev + 1, dropTarget: null })
      else set({ dropTarget: null })
    },

    resizeEnd: (id) => {
      const s = get()
      const nodes = growGroupsToFit(s.nodes, [id])
      set({ nodes, rev: s.rev + 1 })
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
        }
        if (!parentId) delete copy.parentId
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
          if (n.type === GROUP_NODE && p.w && p.h) { out.width = p.w; out.height = p.h }
          return out
        }),
      })
    },

    setMeta: (meta) => set({ meta: { ...get().meta, ...meta } }),
    setModelDefaults: (modelDefaults) => set({ modelDefaults }),
    markSaved: () => set({ savedRev: get().rev }),
    setValidation: (v, rev) => {
      const valid = !v.errors.length && v.cost != null
      set({
        errors: v.errors, errorsByNode: groupErrors(v.errors), cost: valid ? v.cost : null,
        lastCost: valid ? v.cost : get().lastCost, validatedRev: rev, validating: false, validationError: null,
      })
    },
    setValidating: (validating, error) => set({ validating, validationError: error ?? null }),
  }
})

export const isDirty = (s: EditorState) => s.rev !== s.savedRev
