// The canvas: React Flow with the generic block and group nodes, minimap and controls. A block
// dropped from the palette lands with its centre under the pointer; a node dragged into a group's
// box joins it (the group is highlighted while dragging) and out of it leaves it; a connection
// drag shows why an edge is refused (ConnectionLine) and never makes one.
import {
  Background, ConnectionMode, Controls, MiniMap, ReactFlow, useReactFlow,
  type Connection, type IsValidConnection, type NodeTypes, type OnNodeDrag,
} from '@xyflow/react'
import { useCallback, type DragEvent } from 'react'
import { useEditor } from '../store/editor'
import { groupAt } from '../lib/geometry'
import { BLOCK_NODE, GROUP_NODE, type FlowEdge, type FlowNode } from '../lib/specflow'
import { BlockNode } from './BlockNode'
import { ConnectionLine } from './ConnectionLine'
import { GroupNode } from './GroupNode'
import { BLOCK_MIME } from './Palette'

// Module scope: React Flow re-renders everything if nodeTypes changes identity.
const nodeTypes: NodeTypes = { [BLOCK_NODE]: BlockNode, [GROUP_NODE]: GroupNode }
const defaultEdgeOptions = { type: 'smoothstep', interactionWidth: 16 }
const proOptions = { hideAttribution: true }
const fitViewOptions = { padding: 0.15, maxZoom: 1 }

const INVALID_COLOR = '#eb3b5a'
const minimapBase = (n: FlowNode) => (n.type === GROUP_NODE ? '#d5dbe5' : '#8aa4d6')

export function Canvas({ readOnly }: { readOnly: boolean }) {
  const nodes = useEditor((s) => s.nodes)
  const edges = useEditor((s) => s.edges)
  const onNodesChange = useEditor((s) => s.onNodesChange)
  const onEdgesChange = useEditor((s) => s.onEdgesChange)
  const connect = useEditor((s) => s.connect)
  // The minimap's colours follow the current errors: a new function when they change redraws it.
  const errorsByNode = useEditor((s) => s.errorsByNode)
  const minimapColor = useCallback((n: FlowNode) => (errorsByNode[n.id] ? INVALID_COLOR : minimapBase(n)), [errorsByNode])
  const minimapClass = useCallback((n: FlowNode) => (errorsByNode[n.id] ? 'minimap-invalid' : ''), [errorsByNode])
  const { screenToFlowPosition } = useReactFlow()

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback(
    (c) => useEditor.getState().connectionProblem(c) === null, [])
  const onConnect = useCallback((c: Connection) => connect(c), [connect])
  const onDragOver = useCallback((e: DragEvent) => {
    if (readOnly) return
    e.preventDefault()
    e.dataTransfer.dropEffect = 'move'
    const s = useEditor.getState()
    s.setDropTarget(groupAt(screenToFlowPosition({ x: e.clientX, y: e.clientY }), s.nodes, s.blocks)?.group.id ?? null)
  }, [readOnly, screenToFlowPosition])
  const onDragLeave = useCallback(() => useEditor.getState().setDropTarget(null), [])
  const onDrop = useCallback((e: DragEvent) => {
    if (readOnly) return
    const type = e.dataTransfer.getData(BLOCK_MIME) || e.dataTransfer.getData('text/plain')
    useEditor.getState().setDropTarget(null)
    if (!type) return
    e.preventDefault()
    useEditor.getState().addBlock(type, screenToFlowPosition({ x: e.clientX, y: e.clientY }))
  }, [readOnly, screenToFlowPosition])
  const onNodeDragStart = useCallback(() => useEditor.getState().checkpoint(), [])
  const onNodeDrag: OnNodeDrag<FlowNode> = useCallback((_, node) => {
    const s = useEditor.getState()
    s.setDropTarget(s.dropTargetFor(node.id))
  }, [])
  const onNodeDragStop: OnNodeDrag<FlowNode> = useCallback(
    (_, node, nodes) => useEditor.getState().reparent((nodes.length ? nodes : [node]).map((n) => n.id)), [])

  return (
    <div className="canvas" data-testid="canvas" onDragOver={onDragOver} onDragLeave={onDragLeave} onDrop={onDrop}>
      <ReactFlow<FlowNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        connectionMode={ConnectionMode.Loose}
        connectionLineComponent={ConnectionLine}
        onNodeDragStart={onNodeDragStart}
        onNodeDrag={onNodeDrag}
        onNodeDragStop={onNodeDragStop}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={['Meta', 'Control']}
        onlyRenderVisibleElements={nodes.length > 120}
        minZoom={0.1}
        fitView
        fitViewOptions={fitViewOptions}
        proOptions={proOptions}
      >
        <Background gap={20} size={1} />
        <MiniMap<FlowNode> pannable zoomable nodeColor={minimapColor} nodeClassName={minimapClass} ariaLabel="Minimap" />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  )
}
