// The inspector: the selected node's form, generated from its registry param schema,
// with inline errors from live validation; or the model settings when nothing is selected.
import { memo, useCallback, useMemo } from 'react'
import { useEditor } from '../store/editor'
import { ParamForm } from '../components/ParamForm'
import { groupSlots } from '../lib/groups'
import type { ParamSchema, SpecError } from '../types'
import { useModelSchema } from './modelSchema'

function paramErrors(errors: SpecError[] | undefined, prefix: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of errors ?? []) if (e.field.startsWith(prefix)) out[e.field.slice(prefix.length)] ??= e.message
  return out
}

export const Inspector = memo(function Inspector() {
  const selected = useEditor((s) => {
    const sel = s.nodes.filter((n) => n.selected)
    return sel.length === 1 ? sel[0].id : sel.length ? `${sel.length}` : null
  })
  const count = useEditor((s) => s.nodes.filter((n) => n.selected).length)
  return (
    <aside className="inspector" aria-label="Inspector" data-testid="inspector">
      {count === 1 && selected ? <NodeInspector id={selected} /> : count > 1 ? (
        <p className="muted">{count} nodes selected. Copy (Ctrl+C), delete (Del) or drag them together.</p>
      ) : <ModelInspector />}
    </aside>
  )
})

function NodeInspector({ id }: { id: string }) {
  const node = useEditor((s) => s.nodes.find((n) => n.id === id))
  const parent = useEditor((s) => {
    const pid = s.nodes.find((n) => n.id === id)?.parentId
    return pid ? s.nodes.find((n) => n.id === pid) : undefined
  })
  const blocks = useEditor((s) => s.blocks)
  const errors = useEditor((s) => s.errorsByNode[id])
  const canEdit = useEditor((s) => s.meta.canEdit)
  const updateParams = useEditor((s) => s.updateParams)
  const setSlot = useEditor((s) => s.setSlot)
  const onChange = useCallback((name: string, value: unknown) => updateParams(id, { [name]: value }), [id, updateParams])
  if (!node) return null
  const block = blocks.get(node.data.blockType)
  const slots = parent ? groupSlots(blocks.get(parent.data.blockType))?.filter(Boolean) as string[] | undefined : undefined
  const other = (errors ?? []).filter((e) => !e.field.startsWith('params.'))
  return (
    <div data-testid="node-inspector">
      <h2 className="inspector-title">{block?.title ?? node.data.blockType}</h2>
      <p className="inspector-id"><code>{id}</code> · {block?.family} {block?.complexity && <span className="complexity">{block.complexity}</span>}</p>
      {block?.description && <p className="small">{block.description}</p>}
      {block?.paper && <p className="small muted">{block.paper}</p>}
      <p className="small muted">
        {block?.causal === true ? 'causal' : block?.causal === false ? 'non-causal' : String(block?.causal ?? '')}
        {block?.recurrent ? ' · has a recurrent form' : ''}
        {block && !block.structural && (block.residual ? ' · pre-norm residual' : ' · no residual')}
      </p>
      {slots && slots.length > 1 && (
        <div className="field">
          <label htmlFor="slot-select"><span className="field-name">slot in {parent!.id}</span></label>
          <select id="slot-select" value={node.data.slot ?? ''} disabled={!canEdit} data-testid="slot-select"
            onChange={(e) => setSlot(id, e.target.value)}>
            {slots.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </div>
      )}
      {other.map((e, i) => <div key={i} className="field-error" role="alert">{e.field}: {e.message}</div>)}
      <ParamForm schema={block?.params ?? []} values={node.data.params} onChange={onChange}
        errors={paramErrors(errors, 'params.')} testid="param" disabled={!canEdit} />
    </div>
  )
}

function ModelInspector() {
  const model = useEditor((s) => s.model)
  const setModel = useEditor((s) => s.setModel)
  const canEdit = useEditor((s) => s.meta.canEdit)
  const errors = useEditor((s) => s.errors)
  const schema: ParamSchema[] = useModelSchema()
  const modelErrors = useMemo(() => {
    const out: Record<string, string> = {}
    for (const e of errors) if (!e.node_id && e.field.startsWith('model.')) out[e.field.slice(6)] ??= e.message
    return out
  }, [errors])
  return (
    <div data-testid="model-inspector">
      <h2 className="inspector-title">Model</h2>
      <p className="small muted">Select a node to edit its parameters. These settings apply to the whole model.</p>
      <ParamForm schema={schema} values={model} errors={modelErrors} testid="model" disabled={!canEdit}
        onChange={(name, value) => setModel({ [name]: value })} />
    </div>
  )
}
