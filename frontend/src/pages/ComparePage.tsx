// Compare runs: pick several, overlay their curves (x by step, tokens, wall time or training
// FLOPs; EMA smoothing; mean and band over seeds), one set of panels per task setting, and a table
// of settings (hyper-parameters, budget, task parameters; what differs is highlighted) and final
// metrics. Curves come from GET /api/runs/compare/.
import { useEffect, useMemo, useState } from 'react'
import { compareRuns, listRuns, type CompareResult, type CompareRun } from '../api'
import { formatCount, formatNumber, formatSeconds } from '../lib/format'
import { Link, navigate, useLocation } from '../router'
import {
  X_AXES, alignCurves, differingKeys, flopsPerToken, groupBy, metricCurves, seedKey, settingsRow, taskKey,
  type ChartOptions, type XAxis,
} from '../runs/chartData'
import { LineChart, type Band, type LineSeries } from '../runs/LineChart'
import { RunStatusBadge } from '../runs/StatusBadge'
import type { Run } from '../types'

const PALETTE = ['#3867d6', '#eb3b5a', '#20bf6b', '#f7b731', '#8854d0', '#0fb9b1', '#fa8231', '#4b6584']
const HYPER_ORDER = ['lr', 'batch_size', 'steps', 'seed', 'max_seconds', 'max_tokens']
const METRICS: { key: string; title: string; yLabel: string; testid: string; range?: [number, number] }[] = [
  { key: 'train.loss', title: 'Train loss', yLabel: 'loss (nats/token)', testid: 'compare-train' },
  { key: 'eval.loss', title: 'Eval loss', yLabel: 'loss (nats/token)', testid: 'compare-eval' },
  { key: 'eval.accuracy', title: 'Eval accuracy', yLabel: 'accuracy', testid: 'compare-accuracy', range: [0, 1] },
]

const runLabel = (r: { id: number | string; task: string; version?: number | null }, graph: string) =>
  `${graph}${r.version ? ` v${r.version}` : ''} · #${r.id} ${r.task}`

const X_FORMAT: Record<XAxis, (x: number) => string> = {
  step: (x) => `step ${Math.round(x)}`,
  tokens: (x) => `${formatCount(x)} tokens`,
  time: (x) => formatSeconds(x),
  flops: (x) => `${formatCount(x)} FLOPs`,
}
const percent = (y: number) => `${(y * 100).toFixed(1)} %`

function cellText(v: unknown): string {
  if (v === undefined) return '—'
  if (v !== null && typeof v === 'object') return JSON.stringify(v)
  // Settings as they were typed: 0.01, not 0.01000.
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : formatNumber(v)
}

function flopsHint(runs: CompareRun[]): string {
  const hows = new Set(runs.map((r) => flopsPerToken(r).how))
  const parts = []
  if (hows.has('cost model')) parts.push("3 × the cost model's forward FLOPs per token × training tokens")
  if (hows.has('6 x params')) parts.push('6 × parameters × training tokens (no cost model numbers on the run)')
  return `Training FLOPs = ${parts.join('; for some runs, ') || 'unknown for these runs'}`
}

export function ComparePage() {
  const { query } = useLocation()
  const ids = useMemo(() => (query.get('ids') ?? '').split(',').filter(Boolean), [query.get('ids')])
  const [data, setData] = useState<CompareResult | null>(null)
  const [available, setAvailable] = useState<Run[]>([])
  const [error, setError] = useState('')
  const [axis, setAxis] = useState<XAxis>('step')
  const [smoothing, setSmoothing] = useState(0)
  const [aggregate, setAggregate] = useState(true)

  useEffect(() => { listRuns({}).then(setAvailable).catch(() => undefined) }, [])
  useEffect(() => {
    setError('')
    if (!ids.length) { setData(null); return }
    compareRuns(ids).then(setData).catch((e) => setError(e.message))
  }, [ids])

  const setIds = (next: string[]) => navigate(`/compare?ids=${next.join(',')}`, true)
  const toggle = (id: string) => setIds(ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id])

  const runs: CompareRun[] = data?.runs ?? []
  const colorOf = useMemo(() => new Map(runs.map((r, i) => [r.id, PALETTE[i % PALETTE.length]])), [runs])
  const panels = useMemo(() => groupBy(runs, taskKey), [runs])
  const seedGroups = useMemo(() => groupBy(runs, seedKey).filter((g) => g.items.length > 1).length, [runs])
  const rows = useMemo(() => runs.map(settingsRow), [runs])
  const differs = useMemo(() => differingKeys(rows), [rows])
  const columns = useMemo(() => {
    const keys = new Set(rows.flatMap((r) => Object.keys(r)))
    const hyper = [...HYPER_ORDER.filter((k) => keys.has(k)), ...[...keys].filter((k) => !HYPER_ORDER.includes(k) && k !== 'task' && !k.startsWith('task.')).sort()]
    const task = ['task', ...[...keys].filter((k) => k.startsWith('task.')).sort()]
    return { hyper, task: task.filter((k) => keys.has(k)) }
  }, [rows])
  const opts: ChartOptions = { axis, smoothing, aggregate: aggregate && seedGroups > 0 }

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
                data-testid={`pick-run-${r.id}`} /> {runLabel(r, r.graph?.name ?? 'graph')} <RunStatusBadge status={r.status} result={r.result} hparams={r.hparams} /></label>
            </li>
          ))}
          {!available.length && <li className="muted small">No runs yet.</li>}
        </ul>
      </details>
      {runs.length > 0 && <>
        <div className="compare-controls" data-testid="compare-controls">
          <label>x axis{' '}
            <select value={axis} onChange={(e) => setAxis(e.target.value as XAxis)} data-testid="compare-axis">
              {X_AXES.map((a) => <option key={a.value} value={a.value} title={a.value === 'flops' ? flopsHint(runs) : undefined}>{a.label}</option>)}
            </select>
          </label>
          {axis === 'flops' && <span className="small muted" data-testid="flops-hint">{flopsHint(runs)}</span>}
          <label title="Exponential moving average of the train curves (0 = raw)">smoothing{' '}
            <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} data-testid="compare-smoothing" />
            {' '}<b>{smoothing.toFixed(2)}</b>
          </label>
          <label title={seedGroups ? 'Runs that differ only by their seed are drawn as their mean with a min-max band' : 'No runs here differ only by their seed'}>
            <input type="checkbox" checked={aggregate && seedGroups > 0} disabled={!seedGroups} onChange={(e) => setAggregate(e.target.checked)} data-testid="compare-aggregate" />
            {' '}mean and band over seeds{seedGroups ? ` (${seedGroups} group${seedGroups > 1 ? 's' : ''})` : ''}
          </label>
        </div>
        {panels.length > 1 && (
          <p className="notice" role="note" data-testid="compare-task-notice">
            These runs are on {panels.length} different tasks or task settings; their losses and accuracies are not
            comparable, so each setting has its own panels.
          </p>
        )}
        {panels.map((p) => (
          <ComparePanel key={p.key} runs={p.items} steps={data!.steps} opts={opts} colorOf={colorOf}
            title={panels.length > 1 ? panelTitle(p.items[0]) : null} />
        ))}
        <div className="table-scroll">
          <table className="table card" data-testid="compare-table">
            <thead><tr>
              <th>Run</th><th>Status</th>
              {[...columns.hyper, ...columns.task].map((k) => (
                <th key={k} className={differs.has(k) ? 'differs' : undefined} data-testid={`col-${k}`} data-differs={differs.has(k)}
                  title={differs.has(k) ? 'differs between these runs' : 'the same in every run'}>{k.replace(/^task\./, '').replace(/_/g, ' ')}</th>
              ))}
              <th>Final train loss</th><th>Final eval loss</th><th>Accuracy</th><th>Params</th><th>Tokens/s</th><th>Wall time</th>
            </tr></thead>
            <tbody>
              {runs.map((r, i) => (
                <tr key={String(r.id)} data-testid={`compare-row-${r.id}`}>
                  <td><span className="swatch" style={{ background: colorOf.get(r.id) }} /> <Link to={`/runs/${r.id}`}>{runLabel(r, r.graph_title)}</Link></td>
                  <td><RunStatusBadge status={r.status} result={r.final_metrics} hparams={r.hyper} /></td>
                  {[...columns.hyper, ...columns.task].map((k) => (
                    <td key={k} className={differs.has(k) ? 'differs' : undefined}>{cellText(rows[i][k])}</td>
                  ))}
                  <td>{formatNumber(r.final_metrics?.final_train_loss)}</td>
                  <td>{formatNumber(r.final_metrics?.final_eval_loss)}</td>
                  <td>{formatNumber(r.final_metrics?.eval_accuracy)}</td>
                  <td>{formatCount(r.final_metrics?.params as number | undefined)}</td>
                  <td>{formatCount(r.final_metrics?.tokens_per_s as number | undefined)}</td>
                  <td>{formatSeconds(r.final_metrics?.wall_seconds as number | undefined)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </>}
    </main>
  )
}

function panelTitle(r: CompareRun): string {
  const params = Object.entries(r.task_params ?? {}).map(([k, v]) => `${k.replace(/_/g, ' ')} ${cellText(v)}`).join(', ')
  return `${r.task}${params ? ` · ${params}` : ''}`
}

interface PanelProps {
  runs: CompareRun[]
  steps: number[]
  opts: ChartOptions
  colorOf: Map<number, string>
  title: string | null
}

function ComparePanel({ runs, steps, opts, colorOf, title }: PanelProps) {
  const unit = X_AXES.find((a) => a.value === opts.axis)!.unit
  const hint = opts.axis === 'flops' ? flopsHint(runs) : undefined
  const charts = useMemo(() => METRICS.map((m) => {
    const curves = metricCurves(runs, steps, m.key, opts)
    const aligned = alignCurves(curves.map((c) => c.curve))
    const series: LineSeries[] = curves.map((c) => {
      const first = c.runs[0]
      const label = c.runs.length > 1 ? `${runLabel(first, first.graph_title)} · mean of ${c.runs.length} seeds` : runLabel(first, first.graph_title)
      return { label, color: colorOf.get(first.id) ?? PALETTE[0], points: m.key.startsWith('eval.') }
    })
    const bands: Band[] = []
    curves.forEach((c, i) => {
      if (aligned.lo[i] && aligned.hi[i]) bands.push({ lo: aligned.lo[i]!, hi: aligned.hi[i]!, fill: `${colorOf.get(c.runs[0].id) ?? PALETTE[0]}33` })
    })
    return { ...m, series, bands, data: [aligned.x, ...aligned.ys] }
  }), [runs, steps, opts.axis, opts.smoothing, opts.aggregate, colorOf])
  const version = charts.reduce((n, c) => n + c.data[0].length, 0)

  return (
    <section className="compare-panel" data-testid="compare-panel">
      {title && <h2 className="compare-panel-title">{title}</h2>}
      <div className="charts">
        {charts.map((c) => (
          <LineChart key={`${c.key}:${c.series.map((s) => s.label).join('|')}`} title={c.title} series={c.series} data={c.data}
            version={version} xLabel={unit} xFormat={X_FORMAT[opts.axis]} yLabel={c.yLabel} yRange={c.range}
            yFormat={c.range ? percent : undefined} testid={c.testid} bands={c.bands} hint={hint} xIntegers={opts.axis === 'step'} legendValues={false} />
        ))}
      </div>
    </section>
  )
}
