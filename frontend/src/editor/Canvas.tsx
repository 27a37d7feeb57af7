// The canvas: React Flow with the generic block and group nodes, minimap and controls.
import {
  Background, Controls, MiniMap, ReactFlow, useReactFlow, type Connection, type IsValidConnection, type NodeTypes,
} from '@xyflow/react'
import { useCallback, type DragEvent } from 'react'
import { useEditor } from '../store/editor'
import { BLOCK_NODE, GROUP_NODE, type FlowEdge, type FlowNode } from '../lib/specflow'
import { BlockNode } from './BlockNode'
import { GroupNode } from './GroupNode'
import { BLOCK_MIME } from './Palette'

// Module scope: React Flow re-renders everything if nodeTypes changes identity.
const nodeTypes: NodeTypes = { [BLOCK_NODE]: BlockNode, [GROUP_NODE]: GroupNode }
const defaultEdgeOptions = { type: 'smoothstep', interactionWidth: 16 }
const proOptions = { hideAttribution: true }
const fitViewOptions = { padding: 0.15, maxZoom: 1 }

function minimapColor(n: FlowNode): string {
  return useEditor.getState().errorsByNode[n.id] ? '#eb3b5a' : n.type === GROUP_NODE ? '#d5dbe5' : '#8aa4d6'
}

export function Canvas({ readOnly }: { readOnly: boolean }) {
  const nodes = useEditor((s) => s.nodes)
  const edges = useEditor((s) => s.edges)
  const onNodesChange = useEditor((s) => s.onNodesChange)
  const onEdgesChange = useEditor((s) => s.onEdgesChange)
  const connect = useEditor((s) => s.connect)
  const { screenToFlowPosition } = useReactFlow()

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback(
    (c) => useEditor.getState().canConnect({ source: c.source, target: c.target }), [])
  const onConnect = useCallback((c: Connection) => connect(c), [connect])
  const onDragOver = useCallback((e: DragEvent) => {
    if (readOnly) return
    e.preventDefault()
    e.dataTransfer.dropEffect = 'move'
  }, [readOnly])
  const onDrop = useCallback((e: DragEvent) => {
    if (readOnly) return
    const type = e.dataTransfer.getData(BLOCK_MIME) || e.dataTransfer.getData('text/plain')
    if (!type) return
    e.preventDefault()
    useEditor.getState().addBlock(type, screenToFlowPosition({ x: e.clientX, y: e.clientY }))
  }, [readOnly, screenToFlowPosition])
  const onNodeDragStart = useCallback(() => useEditor.getState().checkpoint(), [])
  const onNodeDragStop = useCallback((_: unknown, node: FlowNode) => useEditor.getState().reparent(node.id), [])

  return (
    <div className="canvas" data-testid="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<FlowNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onNodeDragStart={onNodeDragStart}
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
        <MiniMap<FlowNode> pannable zoomable nodeColor={minimapColor} ariaLabel="Minimap" />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  )
}
