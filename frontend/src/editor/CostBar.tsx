// The cost bar: total params, FLOPs/token, activation memory and inference state at max_seq_len,
// complexity class, and whether the graph is valid, all from the last live validation.
import { memo } from 'react'
import { useEditor } from '../store/editor'
import { formatBytes, formatCount } from '../lib/format'

export const CostBar = memo(function CostBar() {
  const cost = useEditor((s) => s.cost)
  const errors = useEditor((s) => s.errors)
  const validating = useEditor((s) => s.validating)
  const maxLen = useEditor((s) => s.model.max_seq_len)
  const global = errors.filter((e) => !e.node_id)
  return (
    <footer className="cost-bar" aria-label="Model cost" data-testid="cost-bar" aria-busy={validating}>
      <Stat label="Params" value={formatCount(cost?.params)} testid="cost-params" />
      <Stat label="FLOPs/token" value={formatCount(cost?.flops_per_token)} testid="cost-flops" />
      <Stat label={`Activations @ ${maxLen}`} value={formatBytes(cost?.activation_bytes)} testid="cost-activations" />
      <Stat label={`Inference state @ ${maxLen}`} value={formatBytes(cost?.state_bytes)} testid="cost-state" />
      <Stat label="Complexity" value={cost?.complexity ?? '—'} testid="cost-complexity" />
      <span className={`validity ${errors.length ? 'bad' : 'good'}`} data-testid="validity" role="status"
        title={global.map((e) => `${e.field}: ${e.message}`).join('\n')}>
        {validating ? 'Checking…' : errors.length ? `${errors.length} problem${errors.length > 1 ? 's' : ''}${global.length ? `: ${global[0].message}` : ''}` : 'Valid'}
      </span>
    </footer>
  )
})

function Stat({ label, value, testid }: { label: string; value: string; testid: string }) {
  return (
    <span className="stat">
      <span className="stat-label">{label}</span>
      <span className="stat-value" data-testid={testid}>{value}</span>
    </span>
  )
}
