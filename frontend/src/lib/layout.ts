// Auto-layout with elkjs (layered, top to bottom), groups laid out with their sub-graphs and sized
// by elk to hold them (never under GROUP_MIN_W x GROUP_MIN_H, a size elk is told, so no box overlaps
// another). elkjs is loaded on first use so it stays out of the initial bundle.
import type { FlowEdge, FlowNode } from './specflow'
import { GROUP_H, GROUP_MIN_H, GROUP_MIN_W, GROUP_NODE, GROUP_W } from './specflow'
import { GROUP_HEAD, GROUP_PAD, nodeSize } from './geometry'

type Positions = Record<string, { x: number; y: number; w?: number; h?: number }>

interface ElkNode {
  id: string
  width?: number
  height?: number
  x?: number
  y?: number
  children?: ElkNode[]
  edges?: { id: string; sources: string[]; targets: string[] }[]
  layoutOptions?: Record<string, string>
}

const ROOT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '48',
  'elk.spacing.nodeNode': '36',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
}

const GROUP_OPTIONS = {
  'elk.padding': `[top=${GROUP_HEAD + 4},left=${GROUP_PAD + 4},bottom=${GROUP_PAD + 4},right=${GROUP_PAD + 4}]`,
  'elk.nodeSize.constraints': '[MINIMUM_SIZE]',
  'elk.nodeSize.minimum': `(${GROUP_MIN_W}, ${GROUP_MIN_H})`,
}

export async function autoLayout(nodes: FlowNode[], edges: FlowEdge[]): Promise<Positions> {
  const { default: ELK } = await import('elkjs/lib/elk.bundled.js')
  const elk = new ELK()
  const elkNodes = new Map<string, ElkNode>()
  for (const n of nodes) {
    const isGroup = n.type === GROUP_NODE
    elkNodes.set(n.id, {
      id: n.id,
      ...(isGroup ? { children: [], edges: [], layoutOptions: GROUP_OPTIONS } : { width: nodeSize(n).w, height: nodeSize(n).h }),
    })
  }
  const root: ElkNode = { id: '__root__', children: [], edges: [], layoutOptions: ROOT_OPTIONS }
  for (const n of nodes) {
    const parent = n.parentId ? elkNodes.get(n.parentId) : root
    ;(parent ?? root).children!.push(elkNodes.get(n.id)!)
  }
  const byId = new Map(nodes.map((n) => [n.id, n]))
  for (const e of edges) {
    const owner = byId.get(e.source)?.parentId
    const container = owner ? elkNodes.get(owner) ?? root : root
    container.edges!.push({ id: e.id, sources: [e.source], targets: [e.target] })
  }
  // Empty groups keep their size.
  for (const n of nodes) {
    const en = elkNodes.get(n.id)!
    if (n.type === GROUP_NODE && !en.children!.length) { en.width = nodeSize(n).w; en.height = nodeSize(n).h; delete en.children }
  }
  const out = (await elk.layout(root as any)) as ElkNode
  const positions: Positions = {}
  const walk = (node: ElkNode) => {
    for (const c of node.children ?? []) {
      const isGroup = byId.get(c.id)?.type === GROUP_NODE
      positions[c.id] = {
        x: Math.round(c.x ?? 0), y: Math.round(c.y ?? 0),
        ...(isGroup ? { w: Math.round(c.width ?? GROUP_W), h: Math.round(c.height ?? GROUP_H) } : {}),
      }
      walk(c)
    }
  }
  walk(out)
  return positions
}
