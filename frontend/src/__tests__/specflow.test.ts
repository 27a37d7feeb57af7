import { describe, expect, it } from 'vitest'
import { createsCycle, flowToSpec, freshId, makeEdge, newSpec, sortParentsFirst, specToFlow, GROUP_NODE } from '../lib/specflow'
import { fromJsonSchema, modelDefaults } from '../editor/modelSchema'
import { withGroupSlots } from '../lib/groups'
import type { BlockType, Spec } from '../types'

const block = (name: string, family = 'mlp', extra: Partial<BlockType> = {}): BlockType => ({
  name, family, title: name, description: '', paper: '', params: [], complexity: 'O(L)', causal: true,
  recurrent: false, residual: true, structural: false, many_inputs: false, tags: [], ...extra,
})
// Group slots as GET /api/limits/ serves them (blocks.spec.GROUP_SLOTS), put on the blocks as fetchBlocks does.
const GROUP_SLOTS = { repeat: [null], chunk: ['local', 'global'] }
const BLOCKS = new Map(withGroupSlots(['input', 'output', 'mlp', 'softmax_attention', 'mamba', 'repeat', 'chunk']
  .map((n) => block(n, ['repeat', 'chunk', 'input', 'output'].includes(n) ? 'structural' : 'mlp')), GROUP_SLOTS)
  .map((b) => [b.name, b]))

const SPEC: Spec = {
  version: 1,
  model: { d_model: 64, max_seq_len: 128, norm: 'rmsnorm', tie_embeddings: true, allow_noncausal: false },
  nodes: [
    { id: 'in', type: 'input' },
    { id: 'c.local', type: 'mamba', parent: 'c', slot: 'local' },
    { id: 'c', type: 'chunk', params: { chunk_size: 16 } },
    { id: 'c.global', type: 'softmax_attention', params: { heads: 4 }, parent: 'c', slot: 'global' },
    { id: 'out', type: 'output' },
  ],
  edges: [['in', 'c'], ['c', 'out']],
  layout: { in: { x: 0, y: 0 }, c: { x: 0, y: 100, w: 500, h: 300 }, 'c.local': { x: 10, y: 40 }, 'c.global': { x: 260, y: 40 }, out: { x: 0, y: 500 } },
}

describe('spec <-> React Flow', () => {
  it('maps parent/slot to parentId and data.slot, parents first', () => {
    const { nodes, needsLayout } = specToFlow(SPEC, BLOCKS)
    expect(needsLayout).toBe(false)
    const ids = nodes.map((n) => n.id)
    expect(ids.indexOf('c')).toBeLessThan(ids.indexOf('c.local'))
    const local = nodes.find((n) => n.id === 'c.local')!
    expect(local.parentId).toBe('c')
    expect(local.data.slot).toBe('local')
    const group = nodes.find((n) => n.id === 'c')!
    expect(group.type).toBe(GROUP_NODE)
    // The size React Flow draws and NodeResizer changes (not style, which the resizer leaves alone).
    expect(group).toMatchObject({ width: 500, height: 300 })
    expect(local.extent).toBeUndefined()  // a child can be dragged out of its group
  })

  it('saves a resized group in the layout', () => {
    const { nodes, edges } = specToFlow(SPEC, BLOCKS)
    const resized = nodes.map((n) => (n.id === 'c' ? { ...n, width: 517.4, height: 432 } : n))
    expect(flowToSpec(resized, edges, SPEC.model).layout!.c).toEqual({ x: 0, y: 100, w: 517, h: 432 })
  })

  it('round-trips a spec', () => {
    const { nodes, edges } = specToFlow(SPEC, BLOCKS)
    const back = flowToSpec(nodes, edges, SPEC.model)
    const byId = (s: Spec) => Object.fromEntries(s.nodes.map((n) => [n.id, n]))
    expect(byId(back)).toEqual(byId(SPEC))
    expect(back.edges).toEqual(SPEC.edges)
    expect(back.layout).toEqual(SPEC.layout)
  })

  it('asks for a layout when positions are missing', () => {
    expect(specToFlow({ ...SPEC, layout: undefined }, BLOCKS).needsLayout).toBe(true)
  })
})

describe('graph helpers', () => {
  it('refuses edges that close a cycle', () => {
    const edges = [makeEdge('a', 'b'), makeEdge('b', 'c')]
    expect(createsCycle(edges, 'c', 'a')).toBe(true)
    expect(createsCycle(edges, 'a', 'c')).toBe(false)
    expect(createsCycle(edges, 'a', 'a')).toBe(true)
  })

  it('makes fresh ids from the block type', () => {
    expect(freshId('mlp', new Set())).toBe('mlp')
    expect(freshId('mlp', new Set(['mlp', 'mlp_2']))).toBe('mlp_3')
  })

  it('sorts nested groups parents first', () => {
    const sorted = sortParentsFirst([{ id: 'x', parentId: 'g2' }, { id: 'g2', parentId: 'g1' }, { id: 'g1' }])
    expect(sorted.map((n) => n.id)).toEqual(['g1', 'g2', 'x'])
  })
})

describe('a new graph', () => {
  it('takes its model settings from the spec schema the server serves', () => {
    // The shape of GET /api/spec-schema/ properties.model.properties (blocks/spec.py MODEL_FIELDS).
    const props = {
      d_model: { type: 'integer', default: 128, minimum: 8 },
      norm: { enum: ['rmsnorm', 'layernorm'], default: 'rmsnorm' },
      tie_embeddings: { type: 'boolean', default: true },
    }
    const model = modelDefaults(Object.entries(props).map(([k, v]) => fromJsonSchema(k, v)))
    expect(newSpec(model).model).toEqual({ d_model: 128, norm: 'rmsnorm', tie_embeddings: true })
  })
})
