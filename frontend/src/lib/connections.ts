// Which edges a connection drag may create, and why not: checked on every pointer move while the
// line is drawn (the canvas shows the reason at the pointer) and again before the edge is added.
// The server's validation stays the authority on the whole graph; these are the rules one new edge
// can break on its own.
import type { FlowEdge, FlowNode } from './specflow'
import { createsCycle } from './specflow'
import { ENDPOINT_TYPES } from './groups'
import type { BlockType } from '../types'

const [INPUT, OUTPUT] = ENDPOINT_TYPES

/** Handle ids of BlockNode and GroupNode: the input on top (a target), the output below (a source). */
export const IN_HANDLE = 'in'
export const OUT_HANDLE = 'out'

export interface Ends {
  source: string | null
  target: string | null
  sourceHandle?: string | null
  targetHandle?: string | null
}

/** The edge a drag means. The canvas runs in React Flow's loose mode, so a drag may end on a handle
 * of the same kind: React Flow then names the node the drag started from as the source if it
 * started on an output, as the target if on an input. Between two inputs that reads backwards, so it
 * is turned round: the drag goes from the node it started on to the one it ended on. An output
 * dragged onto an input (either way round) is already source -> target. */
export function orient<T extends Ends>(c: T): T {
  if (c.sourceHandle === IN_HANDLE && c.targetHandle === IN_HANDLE) {
    return { ...c, source: c.target, target: c.source, sourceHandle: c.targetHandle, targetHandle: c.sourceHandle }
  }
  return c
}

/** Why the edge source -> target cannot be added (a short phrase shown at the pointer), or null. */
export function connectionProblem(c: Ends, nodes: FlowNode[], edges: FlowEdge[],
  blocks: Map<string, BlockType>): string | null {
  const { source, target } = c
  if (!source || !target) return 'not a block'
  if (source === target) return 'would make a cycle'
  const a = nodes.find((n) => n.id === source)
  const b = nodes.find((n) => n.id === target)
  if (!a || !b) return 'not a block'
  if (a.data.blockType === OUTPUT) return 'Output has no outgoing edges'
  if (b.data.blockType === INPUT) return 'Input takes no incoming edge'
  if ((a.parentId ?? '') !== (b.parentId ?? '')) return 'edges stay inside one group'
  if ((a.data.slot ?? '') !== (b.data.slot ?? '')) return 'edges stay inside one slot'
  if (edges.some((e) => e.source === source && e.target === target)) return 'already connected'
  if (createsCycle(edges, source, target)) return 'would make a cycle'
  // Which blocks take several inputs is the registry's many_inputs (the server checks the same flag).
  if (!blocks.get(b.data.blockType)?.many_inputs && edges.some((e) => e.target === target)) return 'only a Merge takes a second input'
  return null
}
