import { beforeEach, describe, expect, it } from 'vitest'
import { useEditor } from '../store/editor'
import { newSpec } from '../lib/specflow'
import type { BlockType } from '../types'

const block = (name: string, params: BlockType['params'] = []): BlockType => ({
  name, family: ['repeat', 'input', 'output'].includes(name) ? 'structural' : 'mlp', title: name, description: '',
  paper: '', params, complexity: 'O(L)', causal: true, recurrent: false, residual: true, structural: false, tags: [],
  ...(name === 'repeat' ? { slots: [null] } : {}),  // as GET /api/limits/ group_slots gives it
})

beforeEach(() => {
  const s = useEditor.getState()
  s.setBlocks([block('input'), block('output'), block('repeat'),
    block('mlp', [{ name: 'expansion', type: 'float', default: 4, min: 1, max: 16, choices: null, help: '' }])])
  s.load(newSpec(), {})
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

  it('refuses edges across a group boundary and cycles', () => {
    const g = useEditor.getState().addBlock('repeat', { x: 1000, y: 1000 })!
    const group = useEditor.getState().nodes.find((n) => n.id === g)!
    const inside = useEditor.getState().addBlock('mlp', { x: group.position.x + 100, y: group.position.y + 100 })!
    expect(useEditor.getState().canConnect({ source: 'in', target: inside })).toBe(false)
    expect(useEditor.getState().canConnect({ source: 'out', target: 'in' })).toBe(false)
    expect(useEditor.getState().canConnect({ source: 'in', target: g })).toBe(true)
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
