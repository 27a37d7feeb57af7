import { beforeEach, describe, expect, it } from 'vitest'
import type { NodeChange } from '@xyflow/react'
import { useEditor } from '../store/editor'
import { GROUP_H, GROUP_W, newSpec, type FlowNode } from '../lib/specflow'
import { absolutePosition } from '../lib/geometry'
import type { BlockType, ModelSettings } from '../types'

const MODEL: ModelSettings = { d_model: 96, max_seq_len: 256, norm: 'rmsnorm', tie_embeddings: true, allow_noncausal: false }
const node = (id: string) => useEditor.getState().nodes.find((n) => n.id === id)!
const abs = (id: string) => absolutePosition(node(id), new Map(useEditor.getState().nodes.map((n) => [n.id, n])))
/** What React Flow reports once it has measured a node. */
const measure = (id: string, width: number, height: number) =>
  useEditor.getState().onNodesChange([{ id, type: 'dimensions', dimensions: { width, height } } as NodeChange<FlowNode>])

const block = (name: string, params: BlockType['params'] = []): BlockType => ({
  name, family: ['repeat', 'input', 'output'].includes(name) ? 'structural' : 'mlp', title: name, description: '',
  paper: '', params, complexity: 'O(L)', causal: true, recurrent: false, residual: true, structural: false, tags: [],
  many_inputs: name === 'merge',
  ...(name === 'repeat' ? { slots: [null] } : {}),  // as GET /api/limits/ group_slots gives it
})

beforeEach(() => {
  const s = useEditor.getState()
  s.setBlocks([block('input'), block('output'), block('repeat'),
    block('mlp', [{ name: 'expansion', type: 'float', default: 4, min: 1, max: 16, choices: null, help: '' }]), block('merge')])
  s.setModelDefaults(MODEL)
  s.load(newSpec(MODEL), {})
})

describe('editor store', () => {
  it('adds a block with its registry defaults and undoes it', () => {
    const id = useEditor.getState().addBlock('mlp', { x: 500, y: 500 })!
    expect(useEditor.getState().nodes.find((n) => n.id === id)!.data.params).toEqual({ expansion: 4 })
    useEditor.getState().undo()
    expect(useEditor.getState().nodes.some((n) => n.id === id)).toBe(false)
    useEditor.getState().redo()
    expect(useEditor.getState().nodes.some((n) => n.id === id)).toBe(true)
  })

  it('puts a block dropped on a group inside it', () => {
    const g = useEditor.getState().addBlock('repeat', { x: 1000, y: 1000 })!
    const group = useEditor.getState().nodes.find((n) => n.id === g)!
    const inside = useEditor.getState().addBlock('mlp', { x: group.position.x + 100, y: group.position.y + 100 })!
    expect(useEditor.getState().nodes.find((n) => n.id === inside)!.parentId).toBe(g)
    expect(useEditor.getState().spec().nodes.find((n) => n.id === inside)!.parent).toBe(g)
  })

  it('says why an edge is refused, and never adds it', () => {
    const s = () => useEditor.getState()
    const g = s().addBlock('repeat', { x: 1000, y: 1000 })!
    const group = node(g)
    const inside = s().addBlock('mlp', { x: group.position.x + 100, y: group.position.y + 100 })!
    const a = s().addBlock('mlp', { x: 0, y: 400 })!
    const b = s().addBlock('mlp', { x: 0, y: 600 })!
    const m = s().addBlock('merge', { x: 300, y: 600 })!
    s().connect({ source: 'in', target: a, sourceHandle: 'out', targetHandle: 'in' })
    s().connect({ source: a, target: b, sourceHandle: 'out', targetHandle: 'in' })
    s().connect({ source: a, target: m, sourceHandle: 'out', targetHandle: 'in' })
    const problem = (source: string, target: string, sh = 'out', th = 'in') =>
      s().connectionProblem({ source, target, sourceHandle: sh, targetHandle: th })
    expect(problem('in', inside)).toBe('edges stay inside one group')
    expect(problem(b, a)).toBe('would make a cycle')
    expect(problem(a, a)).toBe('would make a cycle')
    expect(problem('out', b)).toBe('Output has no outgoing edges')
    expect(problem(b, 'in')).toBe('Input takes no incoming edge')
    expect(problem(g, b)).toBe('only a Merge takes a second input')  // b already has a
    expect(problem(b, m)).toBeNull()  // a merge takes more
    expect(problem('in', g)).toBeNull()
    // Dragged from an input to an input (React Flow names the start the target): turned round, start -> end.
    expect(problem(b, 'out', 'in', 'in')).toBe('Output has no outgoing edges')  // dragged from Output onto b's input
    const before = s().edges.length
    s().connect({ source: b, target: 'out', sourceHandle: 'in', targetHandle: 'in' })
    s().connect({ source: b, target: a, sourceHandle: 'out', targetHandle: 'in' })
    expect(s().edges.length).toBe(before)
    // Output's input dragged onto b's output: React Flow already gives b -> out; 'in' -> 'out' exists, so refused.
    expect(problem(b, 'out')).toBe('only a Merge takes a second input')
  })

  it('drops a block with its centre at the pointer, at the top level and inside a group', () => {
    const s = () => useEditor.getState()
    const id = s().addBlock('mlp', { x: 500, y: 300 })!
    measure(id, 200, 50)  // smaller than the estimate: re-centred once measured
    expect(abs(id)).toEqual({ x: 400, y: 275 })
    const g = s().addBlock('repeat', { x: 1000, y: 1000 })!
    expect(abs(g)).toEqual({ x: 1000 - GROUP_W / 2, y: 1000 - GROUP_H / 2 })
    const inner = s().addBlock('mlp', { x: 1000, y: 1000 })!
    measure(inner, 200, 50)
    expect(node(inner).parentId).toBe(g)
    expect(abs(inner)).toEqual({ x: 900, y: 975 })
  })

  it('takes a resized group at its new size: a block dropped in the new area joins it, and the layout keeps it', () => {
    const s = () => useEditor.getState()
    const g = s().addBlock('repeat', { x: 1000, y: 1000 })!
    const corner = abs(g)
    // NodeResizer reports a dimensions change that sets width/height (setAttributes).
    s().onNodesChange([{ id: g, type: 'dimensions', resizing: true, setAttributes: true, dimensions: { width: 700, height: 500 } }])
    s().resizeEnd(g)
    const inner = s().addBlock('mlp', { x: corner.x + 500, y: corner.y + 400 })!  // outside the old 460 x 260
    expect(node(inner).parentId).toBe(g)
    expect(s().spec().layout![g]).toMatchObject({ w: 700, h: 500 })
  })

  it('moves a dragged node into the group under its centre, and out again', () => {
    const s = () => useEditor.getState()
    const g = s().addBlock('repeat', { x: 1000, y: 1000 })!
    const id = s().addBlock('mlp', { x: 200, y: 200 })!
    s().connect({ source: 'in', target: id, sourceHandle: 'out', targetHandle: 'in' })
    // Dragged so its centre is inside the group's box.
    s().onNodesChange([{ id, type: 'position', position: { x: 1000 - 110, y: 1000 - 32 }, dragging: true }])
    expect(s().dropTargetFor(id)).toBe(g)
    s().reparent([id])
    expect(node(id).parentId).toBe(g)
    expect(abs(id)).toEqual({ x: 890, y: 968 })  // where it was dropped
    expect(s().edges.some((e) => e.target === id)).toBe(false)  // the edge would cross the border
    expect(s().spec().nodes.find((n) => n.id === id)!.parent).toBe(g)
    // And out: the centre far from the group.
    s().onNodesChange([{ id, type: 'position', position: { x: -2000, y: -2000 }, dragging: true }])
    expect(s().dropTargetFor(id)).toBeNull()
    s().reparent([id])
    expect(node(id).parentId).toBeUndefined()
    expect(s().spec().nodes.find((n) => n.id === id)!.parent).toBeUndefined()
  })

  it('grows a group to hold a child dragged against its edge', () => {
    const s = () => useEditor.getState()
    const g = s().addBlock('repeat', { x: 1000, y: 1000 })!
    const id = s().addBlock('mlp', { x: 1000, y: 1000 })!
    measure(id, 220, 60)
    const before = abs(id)
    s().onNodesChange([{ id, type: 'position', position: { x: GROUP_W - 150, y: 60 }, dragging: true }])
    s().reparent([id])
    expect(node(id).parentId).toBe(g)
    expect(Number(node(g).width)).toBeGreaterThanOrEqual(GROUP_W - 150 + 220)
    expect(abs(id)).not.toEqual(before)
  })

  it('starts a new graph with the server\'s model defaults, and numbers are never stale', () => {
    const s = () => useEditor.getState()
    expect(s().model).toEqual(MODEL)
    const cost = { params: 10, flops_per_token: 20, activation_bytes: 30, state_bytes: 40, complexity: 'O(L)' }
    s().setValidation({ errors: [], cost }, s().rev)
    expect(s().cost).toEqual(cost)
    s().setValidation({ errors: [{ node_id: 'in', field: 'x', message: 'bad', code: 'bad' }], cost: null }, s().rev)
    expect(s().cost).toBeNull()
    expect(s().lastCost).toEqual(cost)
    expect(s().errorsByNode.in).toHaveLength(1)
    s().setValidation({ errors: [], cost }, s().rev)
    expect(s().errorsByNode).toEqual({})
  })

  it('never deletes the endpoints, and deleting a group deletes its contents', () => {
    const g = useEditor.getState().addBlock('repeat', { x: 1000, y: 1000 })!
    const group = useEditor.getState().nodes.find((n) => n.id === g)!
    useEditor.getState().addBlock('mlp', { x: group.position.x + 100, y: group.position.y + 100 })
    useEditor.setState((s) => ({ nodes: s.nodes.map((n) => ({ ...n, selected: n.id === g || n.id === 'in' })) }))
    useEditor.getState().deleteSelected()
    expect(useEditor.getState().nodes.map((n) => n.id).sort()).toEqual(['in', 'out'])
  })

  it('pastes copies with fresh ids and their inner edges', () => {
    const a = useEditor.getState().addBlock('mlp', { x: 0, y: 500 })!
    const b = useEditor.getState().addBlock('mlp', { x: 0, y: 700 })!
    useEditor.getState().connect({ source: a, target: b, sourceHandle: null, targetHandle: null })
    useEditor.setState((s) => ({ nodes: s.nodes.map((n) => ({ ...n, selected: n.id === a || n.id === b })) }))
    useEditor.getState().copy()
    useEditor.getState().paste()
    const ids = useEditor.getState().nodes.map((n) => n.id)
    expect(ids).toContain('mlp_3')
    expect(ids).toContain('mlp_4')
    expect(useEditor.getState().edges.some((e) => e.source === 'mlp_3' && e.target === 'mlp_4')).toBe(true)
  })

  it('counts a parameter change as an unsaved edit', () => {
    const id = useEditor.getState().addBlock('mlp', { x: 0, y: 500 })!
    useEditor.getState().markSaved()
    useEditor.getState().updateParams(id, { expansion: 2 })
    const s = useEditor.getState()
    expect(s.rev).not.toBe(s.savedRev)
    expect(s.spec().nodes.find((n) => n.id === id)!.params).toEqual({ expansion: 2 })
  })
})
