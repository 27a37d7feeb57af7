// A report card: its runs filling in live (websocket /ws/cards/{id}/), the table (task x setting:
// best accuracy over the sweep, spread over seeds, a link to every run), and a radar chart over the
// suite's tasks overlaid with reference architectures' cards at the same suite and budget (the
// examples' cards, loaded from examples/reference-cards/), each one shown or hidden by a checkbox.
import { useEffect, useMemo, useState } from 'react'
import { cancelCard, cardSocketUrl, getCard, listCards } from '../api'
import { budgetLabel, cardTasks, entriesByRow, rowKey } from '../cards/cardLogic'
import { RadarChart, type RadarLayer } from '../cards/RadarChart'
import { formatBytes, formatCount, formatDate, formatSeconds } from '../lib/format'
import { Link } from '../router'
import { useSession } from '../store/session'
import type { CardEntry, CardSummaryRow, ReportCard } from '../types'

const REFERENCE_COLORS = ['#eb3b5a', '#20bf6b', '#f7b731', '#8854d0', '#fa8231', '#0fb9b1', '#a5b1c2', '#4b6584']
const ACTIVE = ['queued', 'running']
const pct = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '—')

export function CardPage({ id }: { id: string }) {
  const [card, setCard] = useState<ReportCard | null>(null)
  const [refs, setRefs] = useState<ReportCard[]>([])
  const [hiddenRefs, setHiddenRefs] = useState<Set<number>>(new Set())
  const [error, setError] = useState('')
  const [live, setLive] = useState(false)
  const user = useSession((s) => s.user)

  useEffect(() => {
    let closed = false
    let ws: WebSocket | null = null
    let retry: ReturnType<typeof setTimeout> | undefined
    let refetch: ReturnType<typeof setTimeout> | undefined
    let finished = false
    const load = () => getCard(id).then((c) => { if (!closed) { setCard(c); finished = !ACTIVE.includes(c.status) } })
      .catch((e) => !closed && setError((e as Error).message))
    // Entry messages carry the run's state; the summary (best over the sweep, spread) comes from
    // the server, fetched again once a burst of them settles.
    const later = () => { clearTimeout(refetch); refetch = setTimeout(load, 600) }
    const onMessage = (ev: MessageEvent) => {
      let m: any
      try { m = JSON.parse(ev.data) } catch { return }
      const base = { status: m.card_status, progress: m.progress }
      if (m.type === 'card') setCard((c) => c && { ...c, ...base, entries: m.entries, summary: m.summary })
      else if (m.type === 'entry') {
        setCard((c) => c && {
          ...c, ...base,
          entries: (c.entries ?? []).map((e): CardEntry => (e.key === m.key
            ? { ...e, run: m.run ?? e.run, status: m.status, worker: m.worker ?? e.worker, eval_accuracy: m.eval_accuracy ?? null, error: m.error ?? '' }
            : e)),
        })
        if (m.status && !ACTIVE.includes(m.status)) later()
      } else if (m.type === 'done') {
        finished = true
        setCard((c) => c && { ...c, ...base, summary: m.summary })
        void load()
      }
    }
    const connect = () => {
      if (closed) return
      ws = new WebSocket(cardSocketUrl(id))
      ws.onopen = () => setLive(true)
      ws.onmessage = onMessage
      ws.onclose = () => { setLive(false); if (!closed && !finished) retry = setTimeout(connect, 2000) }
    }
    void load().then(() => { if (!finished) connect() })
    return () => { closed = true; clearTimeout(retry); clearTimeout(refetch); ws?.close() }
  }, [id])

  // Reference architectures (template graphs) with a finished card at the same suite and budget, best first.
  useEffect(() => {
    if (!card) return
    listCards({ suite: card.suite, budget_kind: card.budget.kind, budget: card.budget.value, order: '-score', page_size: 50 })
      .then((list) => {
        // One card per reference graph (its best), none of this card's own graph.
        const seen = new Set<number>([card.graph])
        setRefs(list.filter((c) => c.graph_is_template && c.task_scores && !seen.has(c.graph) && seen.add(c.graph))
          .slice(0, REFERENCE_COLORS.length))
      })
      .catch(() => setRefs([]))
  }, [card?.id, card?.status])  // again when this card ends: references trained meanwhile appear

  const entries = card?.entries ?? []
  const byRow = useMemo(() => entriesByRow(entries), [entries])
  const tasks = useMemo(() => cardTasks(entries), [entries])
  const rows: CardSummaryRow[] = useMemo(() => {
    if (card?.summary?.rows?.length) return card.summary.rows
    // Before the first summary: one row per (task, setting) of the plan.
    return [...byRow.values()].map((list) => ({ task: list[0].task, setting: list[0].setting, best_accuracy: null, spread: null, per_seed: {}, wall_seconds: 0 }))
  }, [card?.summary, byRow])
  const layers: RadarLayer[] = useMemo(() => card ? [
    { label: `${card.graph_title} (this card)`, color: '#3867d6', values: card.summary?.tasks ?? {}, main: true },
    ...refs.flatMap((r, i) => hiddenRefs.has(r.id) ? [] : [{ label: r.graph_title, color: REFERENCE_COLORS[i], values: r.task_scores ?? {} }]),
  ] : [], [card, refs, hiddenRefs])
  const toggleRef = (id: number) => setHiddenRefs((old) => {
    const next = new Set(old)
    if (!next.delete(id)) next.add(id)
    return next
  })

  if (error) return <main className="page"><p className="field-error" role="alert">{error}</p></main>
  if (!card) return <main className="page"><p className="muted">Loading…</p></main>
  const active = ACTIVE.includes(card.status)
  const runIds = entries.map((e) => e.run).filter((r): r is number => r != null)

  return (
    <main className="page card-page" data-testid="card-page" data-status={card.status}>
      <div className="page-head">
        <div>
          <h1>Report card #{card.id} · <Link to={`/graphs/${card.graph}`}>{card.graph_title}</Link> v{card.version}</h1>
          <p className="muted small">
            suite <b>{card.suite}</b> · budget <b>{budgetLabel(card.budget)}</b> · {card.seeds} seed{card.seeds > 1 ? 's' : ''} ·
            trained at {formatCount(card.params)} params, {formatBytes(card.state_bytes)} state · by {card.user} · {formatDate(card.created_at)}
          </p>
        </div>
        <div className="row">
          <Link to={`/leaderboard?suite=${card.suite}&kind=${card.budget.kind}&budget=${card.budget.value}`} className="button">Leaderboard</Link>
          {runIds.length > 0 && <Link to={`/compare?ids=${runIds.slice(0, 10).join(',')}`} className="button">Compare runs</Link>}
          {active && user?.username === card.user && (
            <button type="button" className="danger" onClick={() => cancelCard(card.id).then((c) => setCard((old) => old && { ...old, ...c, entries: old.entries, summary: old.summary })).catch((e) => setError(e.message))}
              disabled={card.cancel_requested} data-testid="card-cancel">Cancel</button>
          )}
        </div>
      </div>
      <div className="card-stats" role="status" aria-live="polite">
        <span className={`badge status-${card.status}`} data-testid="card-status">{card.status}</span>
        <span data-testid="card-progress">{card.progress.done}/{card.progress.total} runs done</span>
        <progress max={card.progress.total || 1} value={card.progress.done} />
        {active && card.estimate_seconds != null && <span title="the server's estimate for the whole card">estimate ≈ <b>{formatSeconds(card.estimate_seconds)}</b></span>}
        {!active && card.summary?.wall_seconds != null && <span>wall time <b>{formatSeconds(card.summary.wall_seconds)}</b></span>}
        <span>score <b data-testid="card-score">{pct(card.summary?.score ?? card.score)}</b></span>
        {active && <span className="muted small">{live ? 'live' : 'connecting…'}</span>}
      </div>
      {(card.notes?.length ?? 0) > 0 && <ul className="small muted">{card.notes!.map((n) => <li key={n}>{n}</li>)}</ul>}
      {(card.summary?.failed?.length ?? 0) > 0 && (
        <p className="field-error" role="alert">{card.summary!.failed!.length} run(s) failed and do not count: {card.summary!.failed!.join(', ')}</p>
      )}
      <div className="card-layout">
        <table className="table card" data-testid="card-table">
          <thead><tr><th>Task</th><th>Setting</th><th title="best eval accuracy over the sweep, mean over seeds">Best accuracy</th><th title="sample standard deviation over seeds">Spread</th><th>Runs</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={rowKey(r.task, r.setting)} data-testid="card-row">
                <td>{r.task}</td>
                <td className="small">{r.setting}</td>
                <td><b>{pct(r.best_accuracy)}</b></td>
                <td>{r.spread != null ? `± ${(r.spread * 100).toFixed(1)}` : '—'}</td>
                <td className="entry-runs">
                  {(byRow.get(rowKey(r.task, r.setting)) ?? []).map((e) => <EntryLink key={e.key} entry={e} />)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div>
          <RadarChart axes={tasks} layers={layers} testid="card-radar" />
          <fieldset className="radar-references" data-testid="radar-references">
            <legend className="small">Reference architectures, {card.suite} at {budgetLabel(card.budget)}</legend>
            {refs.length ? refs.map((r, i) => (
              <label key={r.id} className="small" title={`score ${pct(r.score)}`}>
                <input type="checkbox" checked={!hiddenRefs.has(r.id)} onChange={() => toggleRef(r.id)} data-testid={`radar-reference-${r.id}`} />
                <i style={{ background: REFERENCE_COLORS[i] }} /> <Link to={`/cards/${r.id}`}>{r.graph_title}</Link> {pct(r.score)}
              </label>
            )) : <span className="small muted">None at this suite and budget yet.</span>}
          </fieldset>
        </div>
      </div>
    </main>
  )
}

function EntryLink({ entry: e }: { entry: CardEntry }) {
  const title = `lr ${e.lr} · wd ${e.weight_decay} · seed ${e.seed}: ${e.status ?? 'not started'}${e.eval_accuracy != null ? `, ${pct(e.eval_accuracy)}` : ''}${e.error ? ` (${e.error})` : ''}`
  const text = e.eval_accuracy != null ? pct(e.eval_accuracy) : (e.status ?? '…')
  const cls = `badge entry-run status-${e.status ?? 'queued'}`
  return e.run != null
    ? <Link to={`/runs/${e.run}`} className={cls} title={title} data-testid={`entry-run-${e.run}`}>{text}</Link>
    : <span className={cls} title={title}>{text}</span>
}
