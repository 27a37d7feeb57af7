// Launch a report card from the editor: suite, budget (parameters or inference state), seeds, with
// the server's plan before launch (size at the budget, runs, wall-time estimate, or why it is
// refused); then go to the card's page to watch it fill in.
import { useEffect, useState } from 'react'
import { errorText, fetchLimits, fetchSuites, launchCard, planCard, type CardPlan } from '../api'
import { formatCount, formatSeconds } from '../lib/format'
import { navigate } from '../router'
import { useEditor } from '../store/editor'
import type { CardSuite } from '../types'
import { budgetLabel } from './cardLogic'

const PLAN_DEBOUNCE_MS = 300

interface Props {
  ensureSaved: () => Promise<{ id: string | number; version: number | null } | null>
  canLaunch: boolean
}

// The state budget has no server default; the parameter one comes with the suites.
const DEFAULT_STATE = 65_536

export function CardLauncher({ ensureSaved, canLaunch }: Props) {
  const [suites, setSuites] = useState<CardSuite[]>([])
  const [suite, setSuite] = useState('')
  const [kind, setKind] = useState<'params' | 'state'>('params')
  const [value, setValue] = useState<number>(0)
  const [seeds, setSeeds] = useState(1)
  const [maxSeeds, setMaxSeeds] = useState<number | null>(null)  // GET /api/limits/ cards.max_seeds
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const [plan, setPlan] = useState<CardPlan | null>(null)
  const [planError, setPlanError] = useState('')
  const graphId = useEditor((s) => s.meta.id)
  const version = useEditor((s) => s.meta.version)

  useEffect(() => {
    fetchLimits().then((l) => setMaxSeeds(l.cards.max_seeds)).catch(() => undefined)
    fetchSuites().then((list) => {
      setSuites(list)
      setSuite((s) => s || list[0]?.name || '')
      setValue((v) => v || list[0]?.default_params || 0)
    }).catch((e) => setError(e.message))
  }, [])

  const current = suites.find((s) => s.name === suite)
  const budget = { kind, value }

  // The plan of the saved version, asked again (debounced) whenever a setting changes.
  useEffect(() => {
    setPlan(null)
    setPlanError('')
    if (graphId == null || !suite || !(value > 0)) return
    const timer = setTimeout(() => {
      planCard(graphId, { suite, seeds, [kind]: value, ...(version ? { version } : {}) })
        .then(setPlan).catch((e) => setPlanError(errorText(e)))
    }, PLAN_DEBOUNCE_MS)
    return () => clearTimeout(timer)
  }, [graphId, version, suite, kind, value, seeds])

  const launch = async () => {
    setError('')
    if (!(value > 0)) { setError('The budget must be a positive number.'); return }
    setBusy(true)
    try {
      const saved = await ensureSaved()
      if (!saved) return
      const card = await launchCard(saved.id, { suite, seeds, [kind]: value, ...(saved.version ? { version: saved.version } : {}) })
      navigate(`/cards/${card.id}`)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <details className="card-launcher" data-testid="card-launcher">
      <summary>Report card</summary>
      <p className="small muted">Train this graph, scaled to a budget, on a suite of diagnostic tasks and score it.</p>
      <div className="field">
        <label htmlFor="card-suite"><span className="field-name">suite</span></label>
        <select id="card-suite" value={suite} onChange={(e) => setSuite(e.target.value)} data-testid="card-suite">
          {suites.map((s) => <option key={s.name} value={s.name}>{s.title || s.name}</option>)}
        </select>
        {current && <div className="field-help">{current.tasks.length} settings × {current.sweep.length} (lr, wd) × seeds = {current.runs_per_seed * seeds} runs</div>}
      </div>
      <div className="field">
        <label htmlFor="card-budget"><span className="field-name">budget</span><span className="field-range">{budgetLabel(budget)}</span></label>
        <div className="row">
          <select value={kind} onChange={(e) => { const k = e.target.value as 'params' | 'state'; setKind(k); setValue(k === 'state' ? DEFAULT_STATE : current?.default_params ?? 0) }} data-testid="card-budget-kind">
            <option value="params">parameters</option>
            <option value="state">inference state (bytes)</option>
          </select>
          <input id="card-budget" type="number" min={1} value={value} onChange={(e) => setValue(Number(e.target.value))} data-testid="card-budget" />
        </div>
      </div>
      <div className="field">
        <label htmlFor="card-seeds"><span className="field-name">seeds</span></label>
        <input id="card-seeds" type="number" min={1} max={maxSeeds ?? undefined} value={seeds} onChange={(e) => setSeeds(Math.max(1, Math.min(maxSeeds ?? Infinity, Number(e.target.value) || 1)))} data-testid="card-seeds" />
      </div>
      {graphId == null && <p className="small muted" data-testid="card-estimate">Save the graph to see what the card would train.</p>}
      {plan && (
        <p className="small" data-testid="card-estimate" title={plan.notes.join('; ') || 'the saved version, scaled to the budget'}>
          {plan.runs} runs of d_model {plan.d_model} ({formatCount(plan.params)} params), version {plan.version}: wall time ≈ <b>{formatSeconds(plan.estimate_seconds)}</b>
          {current?.device === 'gpu' ? ' on a GPU worker' : ' on a CPU worker'}
        </p>
      )}
      {planError && <p className="field-error" role="alert" data-testid="card-plan-error">{planError}</p>}
      {error && <p className="field-error" role="alert" data-testid="card-error">{error}</p>}
      <button type="button" onClick={launch} disabled={busy || !suite || !canLaunch} data-testid="card-launch">
        {busy ? 'Launching…' : 'Launch report card'}
      </button>
    </details>
  )
}
