import { describe, expect, it } from 'vitest'
import { autoLayout } from '../lib/layout'
import { GROUP_MIN_H, GROUP_MIN_W, GROUP_NODE, specToFlow, type FlowNode } from '../lib/specflow'
import { absolutePosition, nodeSize } from '../lib/geometry'
import { withGroupSlots } from '../lib/groups'
import type { BlockType, Spec } from '../types'

const block = (name: string): BlockType => ({
  name, family: 'mlp', title: name, description: '', paper: '', params: [], complexity: 'O(L)', causal: true,
  recurrent: false, residual: true, structural: false, many_inputs: false, tags: [],
})
const BLOCKS = new Map(withGroupSlots(['input', 'output', 'mlp', 'mamba', 'moe', 'softmax_attention', 'repeat'].map(block),
  { repeat: [null] }).map((b) => [b.name, b]))

// The mission's graph: a repeat group holding Mamba, attention and MoE, an empty group beside it,
// and a group resized by hand far larger than its contents (its size must not survive a layout
// that would then overlap Output).
const SPEC: Spec = {
  version: 1,
  model: { d_model: 64, max_seq_len: 128, norm: 'rmsnorm', tie_embeddings: true, allow_noncausal: false },
  nodes: [
    { id: 'in', type: 'input' }, { id: 'r', type: 'repeat' },
    { id: 'r.m', type: 'mamba', parent: 'r' }, { id: 'r.a', type: 'softmax_attention', parent: 'r' }, { id: 'r.e', type: 'moe', parent: 'r' },
    { id: 'empty', type: 'repeat' }, { id: 'x', type: 'mlp' }, { id: 'out', type: 'output' },
  ],
  edges: [['in', 'r'], ['r.m', 'r.a'], ['r.a', 'r.e'], ['r', 'x'], ['x', 'out']],
  layout: { r: { x: 0, y: 0, w: 900, h: 900 } },
}

type Rect = { x: number; y: number; w: number; h: number }
const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h

describe('auto-layout', () => {
  it('never overlaps two nodes, and every child lies inside its group', async () => {
    const flow = specToFlow(SPEC, BLOCKS)
    const pos = await autoLayout(flow.nodes, flow.edges)
    const nodes: FlowNode[] = flow.nodes.map((n) => {
      const p = pos[n.id]
      return { ...n, position: { x: p.x, y: p.y }, ...(p.w ? { width: p.w, height: p.h } : {}) }
    })
    const byId = new Map(nodes.map((n) => [n.id, n]))
    const rect = (n: FlowNode): Rect => ({ ...absolutePosition(n, byId), ...nodeSize(n) })
    for (const a of nodes) {
      for (const b of nodes) {
        if (a.id >= b.id || (a.parentId ?? '') !== (b.parentId ?? '')) continue
        expect(overlaps(rect(a), rect(b)), `${a.id} overlaps ${b.id}`).toBe(false)
      }
      if (a.parentId) {
        const c = rect(a), g = rect(byId.get(a.parentId)!)
        expect(c.x >= g.x && c.y >= g.y && c.x + c.w <= g.x + g.w && c.y + c.h <= g.y + g.h, `${a.id} sticks out of ${a.parentId}`).toBe(true)
      }
    }
    for (const n of nodes.filter((n) => n.type === GROUP_NODE)) {
      expect(nodeSize(n).w).toBeGreaterThanOrEqual(GROUP_MIN_W)
      expect(nodeSize(n).h).toBeGreaterThanOrEqual(GROUP_MIN_H)
    }
  }, 60_000)  // elkjs (1.4 MB) is loaded and parsed on first use: seconds on a busy machine
})
