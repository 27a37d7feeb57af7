// The cost bar: total params, FLOPs/token, activation memory and inference state at max_seq_len,
// complexity class, and whether the graph is valid, all from the last live validation. Its numbers
// are never stale: while the graph is invalid each reads "unknown", with the last valid graph's
// figure greyed beside it; while a change is being checked the figures are greyed.
import { memo } from 'react'
import { useEditor } from '../store/editor'
import { formatBytes, formatCount } from '../lib/format'
import type { CostSummary } from '../types'

type Formatter = (c: CostSummary) => string

const STATS: { label: (maxLen: number) => string; testid: string; value: Formatter }[] = [
  { label: () => 'Params', testid: 'cost-params', value: (c) => formatCount(c.params) },
  { label: () => 'FLOPs/token', testid: 'cost-flops', value: (c) => formatCount(c.flops_per_token) },
  { label: (l) => `Activations @ ${l}`, testid: 'cost-activations', value: (c) => formatBytes(c.activation_bytes) },
  { label: (l) => `Inference state @ ${l}`, testid: 'cost-state', value: (c) => formatBytes(c.state_bytes) },
  { label: () => 'Complexity', testid: 'cost-complexity', value: (c) => c.complexity ?? '—' },
]

export const CostBar = memo(function CostBar() {
  const cost = useEditor((s) => s.cost)
  const lastCost = useEditor((s) => s.lastCost)
  const errors = useEditor((s) => s.errors)
  const checked = useEditor((s) => s.validatedRev != null)
  const current = useEditor((s) => s.validatedRev === s.rev)
  const failed = useEditor((s) => s.validationError)
  const maxLen = useEditor((s) => s.model.max_seq_len)
  const global = errors.filter((e) => !e.node_id)
  const invalid = checked && !cost
  const checking = !current && !failed
  return (
    <footer className={`cost-bar${checking ? ' checking' : ''}`} aria-label="Model cost" data-testid="cost-bar" aria-busy={checking}>
      {STATS.map((st) => (
        <span className="stat" key={st.testid}>
          <span className="stat-label">{st.label(maxLen)}</span>
          <span className={`stat-value${invalid ? ' unknown' : ''}`} data-testid={st.testid}>
            {cost ? st.value(cost) : invalid ? 'unknown' : '—'}
          </span>
          {invalid && lastCost && (
            <span className="stat-last" data-testid={`${st.testid}-last`} title="The cost of the last valid version of this graph">
              last valid: {st.value(lastCost)}
            </span>
          )}
        </span>
      ))}
      <span className={`validity ${failed ? 'bad' : checking ? 'pending' : errors.length ? 'bad' : 'good'}`} data-testid="validity" role="status"
        title={global.map((e) => `${e.field}: ${e.message}`).join('\n')}>
        {failed ? `Could not check: ${failed}` : checking ? 'Checking…'
          : errors.length ? `${errors.length} problem${errors.length > 1 ? 's' : ''}${global.length ? `: ${global[0].message}` : ''}` : 'Valid'}
      </span>
    </footer>
  )
})
