// The line drawn while a connection is dragged: red, with the reason at the pointer, when the edge
// it would make is refused (lib/connections.ts says why); the usual grey otherwise.
import { getSmoothStepPath, type ConnectionLineComponentProps } from '@xyflow/react'
import { useEditor } from '../store/editor'
import type { FlowNode } from '../lib/specflow'

export function ConnectionLine(p: ConnectionLineComponentProps<FlowNode>) {
  // The connection as React Flow builds it for isValidConnection (system XYHandle isValidHandle).
  const fromTarget = p.fromHandle.type === 'target'
  const to = p.toHandle
  const reason = useEditor((s) => (to ? s.connectionProblem({
    source: fromTarget ? to.nodeId : p.fromNode.id,
    sourceHandle: fromTarget ? to.id ?? null : p.fromHandle.id ?? null,
    target: fromTarget ? p.fromNode.id : to.nodeId,
    targetHandle: fromTarget ? p.fromHandle.id ?? null : to.id ?? null,
  }) : null))
  const [path] = getSmoothStepPath({
    sourceX: p.fromX, sourceY: p.fromY, sourcePosition: p.fromPosition,
    targetX: p.toX, targetY: p.toY, targetPosition: p.toPosition,
  })
  const refused = Boolean(reason)
  return (
    <g className={`connection-line${refused ? ' refused' : ''}`} data-testid="connection-line" data-refused={refused || undefined}>
      <path d={path} fill="none" className="connection-line-path" />
      {reason && (
        // toX/toY: the pointer in flow coordinates while the line is refused (p.pointer is in screen pixels).
        <text x={p.toX + 12} y={p.toY - 10} className="connection-reason" data-testid="connection-reason">{reason}</text>
      )}
    </g>
  )
}
