// Launch a report card from the editor: suite, budget (parameters or inference state), seeds, with
// a rough wall-time estimate before launch; then go to the card's page to watch it fill in.
import { useEffect, useState } from 'react'
import { errorText, fetchSuites, launchCard } from '../api'
import { formatSeconds } from '../lib/format'
import { navigate } from '../router'
import { useEditor } from '../store/editor'
import type { CardSuite } from '../types'
import { budgetLabel, estimateCardSeconds, flopsAtBudget } from './cardLogic'

interface Props {
  ensureSaved: () => Promise<{ id: string | number; version: number | null } | null>
  canLaunch: boolean
}

const DEFAULTS = { params: 120_000, state: 65_536 }

export function CardLauncher({ ensureSaved, canLaunch }: Props) {
  const [suites, setSuites] = useState<CardSuite[]>([])
  const [suite, setSuite] = useState('')
  const [kind, setKind] = useState<'params' | 'state'>('params')
  const [value, setValue] = useState<number>(DEFAULTS.params)
  const [seeds, setSeeds] = useState(1)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const cost = useEditor((s) => s.cost)

  useEffect(() => {
    fetchSuites().then((list) => { setSuites(list); setSuite((s) => s || list[0]?.name || '') }).catch((e) => setError(e.message))
  }, [])

  const current = suites.find((s) => s.name === suite)
  const budget = { kind, value }
  const estimate = current && cost ? estimateCardSeconds(current, flopsAtBudget(cost.flops_per_token, cost.params, budget), seeds) : null

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
          <select value={kind} onChange={(e) => { const k = e.target.value as 'params' | 'state'; setKind(k); setValue(DEFAULTS[k]) }} data-testid="card-budget-kind">
            <option value="params">parameters</option>
            <option value="state">inference state (bytes)</option>
          </select>
          <input id="card-budget" type="number" min={1} value={value} onChange={(e) => setValue(Number(e.target.value))} data-testid="card-budget" />
        </div>
      </div>
      <div className="field">
        <label htmlFor="card-seeds"><span className="field-name">seeds</span></label>
        <input id="card-seeds" type="number" min={1} max={5} value={seeds} onChange={(e) => setSeeds(Math.max(1, Math.min(5, Number(e.target.value) || 1)))} data-testid="card-seeds" />
      </div>
      {estimate != null && (
        <p className="small" data-testid="card-estimate" title="From the cost model at the budget; the server's estimate follows on the card's page">
          wall time ≈ <b>{formatSeconds(estimate)}</b>{current?.device === 'gpu' ? ' on a GPU worker' : ' on a CPU worker'}
        </p>
      )}
      {error && <p className="field-error" role="alert" data-testid="card-error">{error}</p>}
      <button type="button" onClick={launch} disabled={busy || !suite || !canLaunch} data-testid="card-launch">
        {busy ? 'Launching…' : 'Launch report card'}
      </button>
    </details>
  )
}
