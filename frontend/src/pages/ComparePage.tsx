// Compare runs: pick several, overlay their curves with a legend (graph + version),
// and a table of final metrics, params and tokens/s. Curves come from GET /api/runs/compare/.
import { useEffect, useMemo, useState } from 'react'
import { compareRuns, listRuns, type CompareResult } from '../api'
import { formatCount, formatNumber } from '../lib/format'
import { Link, navigate, useLocation } from '../router'
import { LineChart, type LineSeries } from '../runs/LineChart'
import type { Run } from '../types'

const PALETTE = ['#3867d6', '#eb3b5a', '#20bf6b', '#f7b731', '#8854d0', '#0fb9b1', '#fa8231', '#4b6584']

type Compared = CompareResult['runs'][number]
const runLabel = (r: { id: number | string; task: string; version?: number | null }, graph: string) =>
  `${graph}${r.version ? ` v${r.version}` : ''} · #${r.id} ${r.task}`

/** [steps, one series per run] for one "<split>.<metric>" curve. */
function overlay(data: CompareResult | null, key: string): (number | null)[][] {
  if (!data) return [[]]
  return [data.steps, ...data.runs.map((r) => r.series[key] ?? data.steps.map(() => null))]
}

export function ComparePage() {
  const { query } = useLocation()
  const ids = useMemo(() => (query.get('ids') ?? '').split(',').filter(Boolean), [query.get('ids')])
  const [data, setData] = useState<CompareResult | null>(null)
  const [available, setAvailable] = useState<Run[]>([])
  const [error, setError] = useState('')

  useEffect(() => { listRuns({}).then(setAvailable).catch(() => undefined) }, [])
  useEffect(() => {
    setError('')
    if (!ids.length) { setData(null); return }
    compareRuns(ids).then(setData).catch((e) => setError(e.message))
  }, [ids])

  const setIds = (next: string[]) => navigate(`/compare?ids=${next.join(',')}`, true)
  const toggle = (id: string) => setIds(ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id])

  const runs: Compared[] = data?.runs ?? []
  const series: LineSeries[] = runs.map((r, i) => ({ label: runLabel(r, r.graph_title), color: PALETTE[i % PALETTE.length] }))
  const evalLoss = useMemo(() => overlay(data, 'eval.loss'), [data])
  const trainLoss = useMemo(() => overlay(data, 'train.loss'), [data])
  const acc = useMemo(() => overlay(data, 'eval.accuracy'), [data])
  const key = runs.map((r) => r.id).join(',')

  return (
    <main className="page compare-page" data-testid="compare-page">
      <h1>Compare runs</h1>
      {error && <p className="field-error" role="alert">{error}</p>}
      <details className="card" open={!ids.length}>
        <summary>Pick runs ({ids.length} selected)</summary>
        <ul className="pick-list">
          {available.map((r) => (
            <li key={String(r.id)}>
              <label><input type="checkbox" checked={ids.includes(String(r.id))} onChange={() => toggle(String(r.id))}
                data-testid={`pick-run-${r.id}`} /> {runLabel(r, r.graph?.name ?? 'graph')} <span className={`badge status-${r.status}`}>{r.status}</span></label>
            </li>
          ))}
          {!available.length && <li className="muted small">No runs yet.</li>}
        </ul>
      </details>
      {runs.length > 0 && <>
        <div className="charts">
          <LineChart key={`t${key}`} title="Train loss" series={series} data={trainLoss} version={0} yLabel="loss" testid="compare-train" />
          <LineChart key={`e${key}`} title="Eval loss" series={series} data={evalLoss} version={0} yLabel="loss" testid="compare-eval" />
          <LineChart key={`a${key}`} title="Eval accuracy" series={series} data={acc} version={0} yLabel="accuracy" testid="compare-accuracy" />
        </div>
        <table className="table card" data-testid="compare-table">
          <thead><tr><th>Run</th><th>Status</th><th>Final train loss</th><th>Final eval loss</th><th>Accuracy</th><th>Params</th><th>Tokens/s</th><th>Wall time</th></tr></thead>
          <tbody>
            {runs.map((r, i) => (
              <tr key={String(r.id)}>
                <td><span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} /> <Link to={`/runs/${r.id}`}>{runLabel(r, r.graph_title)}</Link></td>
                <td><span className={`badge status-${r.status}`}>{r.status}</span></td>
                <td>{formatNumber(r.final_metrics?.final_train_loss)}</td>
                <td>{formatNumber(r.final_metrics?.final_eval_loss)}</td>
                <td>{formatNumber(r.final_metrics?.eval_accuracy)}</td>
                <td>{formatCount(r.final_metrics?.params as number | undefined)}</td>
                <td>{formatCount(r.final_metrics?.tokens_per_s as number | undefined)}</td>
                <td>{formatNumber(r.final_metrics?.wall_seconds, 3)} s</td>
              </tr>
            ))}
          </tbody>
        </table>
      </>}
    </main>
  )
}
