// Compare runs: pick several, overlay their curves with a legend (graph + version),
// and a table of final metrics, params and tokens/s.
import { useEffect, useMemo, useState } from 'react'
import { getRun, listRuns } from '../api'
import { formatCount, formatNumber } from '../lib/format'
import { Link, navigate, useLocation } from '../router'
import { LineChart, type LineSeries } from '../runs/LineChart'
import type { MetricPoint, Run } from '../types'

const PALETTE = ['#3867d6', '#eb3b5a', '#20bf6b', '#f7b731', '#8854d0', '#0fb9b1', '#fa8231', '#4b6584']

const runLabel = (r: Run) => `${r.graph?.name ?? 'graph'}${r.version ? ` v${r.version}` : ''} · #${r.id} ${r.task}`

/** Overlay one metric of several runs on a shared step axis. */
function overlay(runs: Run[], split: 'train' | 'eval', key: 'loss' | 'accuracy'): (number | null)[][] {
  const steps = new Set<number>()
  const maps = runs.map((r) => {
    const m = new Map<number, number>()
    for (const p of r.metrics as MetricPoint[]) {
      if ((p.split ?? 'train') !== split || typeof p[key] !== 'number') continue
      m.set(p.step, p[key] as number)
      steps.add(p.step)
    }
    return m
  })
  const xs = [...steps].sort((a, b) => a - b)
  return [xs, ...maps.map((m) => xs.map((s) => m.get(s) ?? null))]
}

export function ComparePage() {
  const { query } = useLocation()
  const ids = useMemo(() => (query.get('ids') ?? '').split(',').filter(Boolean), [query.get('ids')])
  const [runs, setRuns] = useState<Run[]>([])
  const [available, setAvailable] = useState<Run[]>([])
  const [error, setError] = useState('')

  useEffect(() => { listRuns({}).then(setAvailable).catch(() => undefined) }, [])
  useEffect(() => {
    Promise.all(ids.map((id) => getRun(id))).then(setRuns).catch((e) => setError(e.message))
  }, [ids])

  const setIds = (next: string[]) => navigate(`/compare?ids=${next.join(',')}`, true)
  const toggle = (id: string) => setIds(ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id])

  const series: LineSeries[] = runs.map((r, i) => ({ label: runLabel(r), color: PALETTE[i % PALETTE.length] }))
  const evalLoss = useMemo(() => overlay(runs, 'eval', 'loss'), [runs])
  const trainLoss = useMemo(() => overlay(runs, 'train', 'loss'), [runs])
  const acc = useMemo(() => overlay(runs, 'eval', 'accuracy'), [runs])

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
                data-testid={`pick-run-${r.id}`} /> {runLabel(r)} <span className={`badge status-${r.status}`}>{r.status}</span></label>
            </li>
          ))}
          {!available.length && <li className="muted small">No runs yet.</li>}
        </ul>
      </details>
      {runs.length > 0 && <>
        <div className="charts">
          <LineChart key={`t${series.length}`} title="Train loss" series={series} data={trainLoss} version={runs.length} yLabel="loss" testid="compare-train" />
          <LineChart key={`e${series.length}`} title="Eval loss" series={series} data={evalLoss} version={runs.length} yLabel="loss" testid="compare-eval" />
          <LineChart key={`a${series.length}`} title="Eval accuracy" series={series} data={acc} version={runs.length} yLabel="accuracy" testid="compare-accuracy" />
        </div>
        <table className="table card" data-testid="compare-table">
          <thead><tr><th>Run</th><th>Status</th><th>Final train loss</th><th>Final eval loss</th><th>Accuracy</th><th>Params</th><th>Tokens/s</th><th>Wall time</th></tr></thead>
          <tbody>
            {runs.map((r, i) => (
              <tr key={String(r.id)}>
                <td><span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} /> <Link to={`/runs/${r.id}`}>{runLabel(r)}</Link></td>
                <td><span className={`badge status-${r.status}`}>{r.status}</span></td>
                <td>{formatNumber(r.result?.final_train_loss)}</td>
                <td>{formatNumber(r.result?.final_eval_loss)}</td>
                <td>{formatNumber(r.result?.eval_accuracy)}</td>
                <td>{formatCount(r.result?.params as number | undefined)}</td>
                <td>{formatCount(r.result?.tokens_per_s as number | undefined)}</td>
                <td>{formatNumber(r.result?.wall_seconds, 3)} s</td>
              </tr>
            ))}
          </tbody>
        </table>
      </>}
    </main>
  )
}
