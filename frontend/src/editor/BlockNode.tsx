// The one generic node: every block looks the same, driven by its registry entry.
import { Handle, Position, type NodeProps } from '@xyflow/react'
import { memo } from 'react'
import { useEditor } from '../store/editor'
import type { FlowNode } from '../lib/specflow'
import { summariseParams } from './summary'
import { groupSlots } from '../lib/groups'

export const BlockNode = memo(function BlockNode({ id, data, selected }: NodeProps<FlowNode>) {
  const block = useEditor((s) => s.blocks.get(data.blockType))
  const errors = useEditor((s) => s.errorsByNode[id])
  const invalid = Boolean(errors?.length)
  const slotIndex = useEditor((s) => {
    if (!data.slot) return -1
    const parent = s.nodes.find((n) => n.id === s.nodes.find((x) => x.id === id)?.parentId)
    return parent ? (groupSlots(s.blocks.get(parent.data.blockType)) ?? []).indexOf(data.slot) : -1
  })
  const isInput = data.blockType === 'input'
  const isOutput = data.blockType === 'output'
  const title = errors?.map((e) => `${e.field}: ${e.message}`).join('\n')
  return (
    <div
      className={`block-node family-${block?.family ?? 'unknown'}${invalid ? ' node-invalid' : ''}${selected ? ' node-selected' : ''}`}
      data-testid={`node-${id}`}
      data-invalid={invalid || undefined}
      title={title || block?.description}
      aria-label={`${block?.title ?? data.blockType} ${id}${invalid ? ' (invalid)' : ''}`}
    >
      {!isInput && <Handle type="target" position={Position.Top} id="in" data-testid={`handle-in-${id}`} />}
      <div className="block-node-head">
        <span className="block-node-title">{block?.title ?? data.blockType}</span>
        {block?.complexity && !block.structural && <span className="complexity">{block.complexity}</span>}
      </div>
      <div className="block-node-sub">
        <code>{id}</code>
        {data.slot && <span className={`slot-chip slot-${slotIndex}`} data-testid={`slot-${id}`}>{data.slot}</span>}
        <span className="block-node-params">{summariseParams(block, data.params)}</span>
      </div>
      {invalid && <div className="node-error" role="alert" data-testid={`node-error-${id}`}>{errors![0].message}</div>}
      {!isOutput && <Handle type="source" position={Position.Bottom} id="out" data-testid={`handle-out-${id}`} />}
    </div>
  )
})
