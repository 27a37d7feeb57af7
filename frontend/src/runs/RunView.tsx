// A run followed live: status, queue position, speed, time, charts and Cancel.
import { useMemo, useState } from 'react'
import { cancelRun } from '../api'
import { formatCount, formatNumber, formatSeconds } from '../lib/format'

const STOP_WORDS: Record<string, string> = {
  steps: 'its steps', time: 'time budget', tokens: 'token budget', target: 'target accuracy', cancelled: 'cancel', diverged: 'divergence',
}
const RESULT_FORMATS: [string, string, (v: unknown) => string][] = [
  ['final_train_loss', 'final train loss', (v) => formatNumber(v)],
  ['final_eval_loss', 'final eval loss', (v) => formatNumber(v)],
  ['eval_accuracy', 'eval accuracy', (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—')],
  ['params', 'params', (v) => formatCount(v as number)],
  ['tokens_per_s', 'tokens/s', (v) => formatCount(v as number)],
  ['wall_seconds', 'wall time', (v) => formatSeconds(v as number)],
  ['steps', 'steps', (v) => formatNumber(v)],
  ['stopped', 'stopped by', (v) => STOP_WORDS[String(v)] ?? String(v)],
]
import type { Run } from '../types'
import { LineChart } from './LineChart'
import { estimateEta } from './status'
import { RunStatusBadge } from './StatusBadge'
import { isTerminal, useRunStream } from './useRunStream'

const LOSS_SERIES = [
  { label: 'train loss', color: '#3867d6' },
  { label: 'eval loss', color: '#eb3b5a', dash: [6, 4], points: true },
]
const ACC_SERIES = [{ label: 'eval accuracy', color: '#20bf6b', points: true }]
const ACC_RANGE: [number, number] = [0, 1]

export function RunView({ run, compact = false }: { run: Run; compact?: boolean }) {
  const { live, series } = useRunStream(run.id, run)
  const [cancelling, setCancelling] = useState(false)
  const [cancelError, setCancelError] = useState('')
  const d = useMemo(() => series.data(), [series, live.tick])
  const lossData = useMemo(() => [d.steps, d.trainLoss, d.evalLoss], [d])
  const accData = useMemo(() => [d.steps, d.accuracy], [d])

  const last = series.last
  const totalSteps = Number(run.hparams?.steps ?? run.steps ?? 0) || null
  const step = last?.step ?? 0
  const elapsed = typeof last?.elapsed_s === 'number' ? last.elapsed_s : null
  const status = live.status === 'unknown' ? run.status : live.status
  const budgetNum = (k: string) => (typeof run.hparams?.[k] === 'number' ? (run.hparams[k] as number) : null)
  const eta = isTerminal(status) ? null : estimateEta({
    step, totalSteps, elapsed, maxSeconds: budgetNum('max_seconds'), maxTokens: budgetNum('max_tokens'),
    tokens: typeof last?.tokens === 'number' ? last.tokens : null,
    tokensPerS: typeof last?.tokens_per_s === 'number' ? last.tokens_per_s : null,
  })

  const cancel = async () => {
    setCancelling(true)
    try { await cancelRun(run.id) } catch (e) { setCancelError(String((e as Error).message)) } finally { setCancelling(false) }
  }

  return (
    <section className="run-view" data-testid="run-view" data-run-id={String(run.id)} data-status={status}>
      <div className="run-stats" role="status" aria-live="polite">
        <RunStatusBadge status={status} result={live.result ?? run.result} hparams={run.hparams} testid="run-status" detail />
        {status === 'queued' && live.queuePosition != null && <span data-testid="queue-position">#{live.queuePosition} in queue</span>}
        <span title="step">step <b data-testid="run-step">{step}</b>{totalSteps ? ` / ${totalSteps}` : ''}</span>
        <span>tokens/s <b data-testid="run-tokens">{formatCount(last?.tokens_per_s as number | undefined)}</b></span>
        <span>elapsed <b>{formatSeconds(elapsed)}</b></span>
        {eta != null && (
          <span data-testid="run-eta" data-by={eta.by} title={eta.by === 'steps' ? 'at the current speed, to the configured steps' : `when the ${eta.by === 'time' ? 'time' : 'token'} budget ends the run`}>
            remaining ≈ <b>{formatSeconds(eta.seconds)}</b>{eta.by !== 'steps' ? ` (${eta.by} budget)` : ''}
          </span>
        )}
        {!live.connected && !isTerminal(status) && <span className="muted">reconnecting…</span>}
        {!isTerminal(status) && (
          <button type="button" className="danger" onClick={cancel} disabled={cancelling} data-testid="run-cancel">Cancel</button>
        )}
      </div>
      {(live.error || cancelError) && <p className="field-error" role="alert">{live.error || cancelError}</p>}
      <div className={compact ? 'charts charts-compact' : 'charts'}>
        <LineChart title="Loss" series={LOSS_SERIES} data={lossData} version={live.tick} yLabel="loss (nats/token)" testid="chart-loss" height={compact ? 190 : 260} compact={compact} xIntegers />
        <LineChart title="Accuracy" series={ACC_SERIES} data={accData} version={live.tick} yLabel="accuracy" yRange={ACC_RANGE}
          yFormat={(y) => `${(y * 100).toFixed(1)} %`} testid="chart-accuracy" height={compact ? 160 : 200} compact={compact} xIntegers />
      </div>
      {live.result && <ResultTable result={live.result} />}
      {!compact && live.logs.length > 0 && (
        <details className="run-logs"><summary>Log ({live.logs.length})</summary><pre>{live.logs.join('\n')}</pre></details>
      )}
    </section>
  )
}

function ResultTable({ result }: { result: Record<string, unknown> }) {
  return (
    <dl className="result-grid" data-testid="run-result">
      {RESULT_FORMATS.filter(([k]) => k in result).map(([k, label, fmt]) => (
        <div key={k} className="result-cell"><dt>{label}</dt><dd>{fmt(result[k])}</dd></div>
      ))}
    </dl>
  )
}
