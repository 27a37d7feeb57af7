// The runs of one graph in the editor's run panel (launched on their own; a report card's runs are
// on its page): status, task, key metric and a sparkline of the train loss; clicking one shows it
// live in the panel without leaving the editor. The newest ten runs, their curves in one
// GET /api/runs/compare/; refreshed while any of them is active.
import { useEffect, useState } from 'react'
import { compareRuns, listRuns } from '../api'
import { formatNumber } from '../lib/format'
import type { Run } from '../types'
import { RunStatusBadge } from './StatusBadge'
import { keyMetric, sparklinePath } from './sparkline'
import { isTerminal } from './useRunStream'

const SHOWN = 10
const POLL_MS = 3000

interface Props {
  graphId: string | number | null
  activeId: string | number | null
  onPick: (run: Run) => void
  /** Changes when the panel launched a run: list again now. */
  refresh: number
}

export function RunHistory({ graphId, activeId, onPick, refresh }: Props) {
  const [runs, setRuns] = useState<Run[]>([])
  const [curves, setCurves] = useState<Record<string, (number | null)[]>>({})

  useEffect(() => {
    if (graphId == null) { setRuns([]); return }
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async () => {
      try {
        const list = (await listRuns({ graph: graphId, standalone: true })).slice(0, SHOWN)
        if (stopped) return
        setRuns(list)
        if (list.length) {
          const cmp = await compareRuns(list.map((r) => r.id))
          if (stopped) return
          setCurves(Object.fromEntries(cmp.runs.map((r) => [String(r.id), r.series['train.loss'] ?? []])))
        }
        if (list.some((r) => !isTerminal(r.status))) timer = setTimeout(load, POLL_MS)
      } catch { /* the list is a convenience: the panel works without it */ }
    }
    void load()
    return () => { stopped = true; clearTimeout(timer) }
  }, [graphId, refresh])

  if (!runs.length) return null
  return (
    <details className="run-history" open data-testid="run-history">
      <summary>Runs of this graph ({runs.length}{runs.length === SHOWN ? '+' : ''})</summary>
      <ul>
        {runs.map((r) => {
          const metric = keyMetric(r.result)
          const active = activeId != null && String(activeId) === String(r.id)
          return (
            <li key={String(r.id)}>
              <button type="button" className={`run-history-item${active ? ' active' : ''}`} aria-pressed={active}
                onClick={() => onPick(r)} data-testid={`history-run-${r.id}`} title={`Show run #${r.id} here`}>
                <span className="run-history-id">#{String(r.id)}</span>
                <RunStatusBadge status={r.status} result={r.result} hparams={r.hparams} />
                <span className="run-history-task">{r.task}</span>
                <span className="run-history-metric" title={metric?.title}>{metric ? metric.text : formatNumber(null)}</span>
                <svg className="sparkline" width={64} height={18} viewBox="0 0 64 18" aria-hidden="true">
                  <path d={sparklinePath(curves[String(r.id)] ?? [], 64, 18)} />
                </svg>
              </button>
            </li>
          )
        })}
      </ul>
    </details>
  )
}
