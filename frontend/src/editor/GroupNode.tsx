// A repeat or chunk group: a resizable box holding its sub-graph; one lane per slot. Resizing sets
// the node's width/height (its real size, saved in the layout); it is outlined while a dragged node
// or palette block would land in it.
import { Handle, NodeResizer, Position, type NodeProps } from '@xyflow/react'
import { memo } from 'react'
import { useEditor } from '../store/editor'
import { groupSlots } from '../lib/groups'
import { GROUP_MIN_H, GROUP_MIN_W, type FlowNode } from '../lib/specflow'
import { summariseParams } from './summary'

const checkpoint = () => useEditor.getState().checkpoint()

export const GroupNode = memo(function GroupNode({ id, data, selected }: NodeProps<FlowNode>) {
  const block = useEditor((s) => s.blocks.get(data.blockType))
  const errors = useEditor((s) => s.errorsByNode[id])
  const dropTarget = useEditor((s) => s.dropTarget === id)
  const invalid = Boolean(errors?.length)
  const slots = groupSlots(block) ?? [null]
  return (
    <div
      className={`group-node${invalid ? ' node-invalid' : ''}${selected ? ' node-selected' : ''}${dropTarget ? ' drop-target' : ''}`}
      data-testid={`node-${id}`}
      data-invalid={invalid || undefined}
      data-drop-target={dropTarget || undefined}
      title={errors?.map((e) => `${e.field}: ${e.message}`).join('\n') || block?.description}
      aria-label={`${block?.title ?? data.blockType} group ${id}`}
    >
      <NodeResizer isVisible={selected} minWidth={GROUP_MIN_W} minHeight={GROUP_MIN_H}
        onResizeStart={checkpoint} onResizeEnd={() => useEditor.getState().resizeEnd(id)} />
      <Handle type="target" position={Position.Top} id="in" />
      <div className="group-node-head">
        <strong>{block?.title ?? data.blockType}</strong> <code>{id}</code>
        <span className="block-node-params">{summariseParams(block, data.params)}</span>
      </div>
      {slots.length > 1 && (
        <div className="group-slots small muted" title="Drop a block on the left half for the first slot, the right half for the second; change it in the inspector">
          slots: {slots.map((s, i) => <span key={String(s)} className={`slot-chip slot-${i}`}>{s}</span>)}
        </div>
      )}
      {invalid && <div className="node-error" role="alert" data-testid={`node-error-${id}`}>{errors![0].message}</div>}
      <Handle type="source" position={Position.Bottom} id="out" />
    </div>
  )
})
