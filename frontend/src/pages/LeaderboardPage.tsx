// The leaderboard: finished report cards (public ones and your own) at one suite and budget,
// sortable by score and by each task, with params, state size, wall time and the graph (fork from
// its page). GET /api/report-cards/?suite=&budget_kind=&budget=&order=-score.
import { useEffect, useMemo, useState } from 'react'
import { fetchSuites, listCards } from '../api'
import { budgetLabel, sortCards, type CardSortKey } from '../cards/cardLogic'
import { formatBytes, formatCount, formatSeconds } from '../lib/format'
import { Link, navigate, useLocation } from '../router'
import type { CardSuite, ReportCard } from '../types'

const pct = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}` : '—')

export function LeaderboardPage() {
  const { query } = useLocation()
  const [suites, setSuites] = useState<CardSuite[]>([])
  const [cards, setCards] = useState<ReportCard[]>([])
  const [error, setError] = useState('')
  const [sort, setSort] = useState<{ key: CardSortKey; desc: boolean }>({ key: 'score', desc: true })
  const suite = query.get('suite') ?? suites[0]?.name ?? ''
  const kind = query.get('kind')
  const budget = query.get('budget')

  useEffect(() => { fetchSuites().then(setSuites).catch((e) => setError(e.message)) }, [])
  useEffect(() => {
    if (!suite) return
    listCards({ suite, order: '-score', page_size: 100 }).then(setCards).catch((e) => setError(e.message))
  }, [suite])

  // The budgets cards exist at; the one in the URL, else the one with the most cards.
  const budgets = useMemo(() => {
    const counts = new Map<string, { kind: 'params' | 'state'; value: number; n: number }>()
    for (const c of cards) {
      const k = `${c.budget.kind}:${c.budget.value}`
      counts.set(k, { ...c.budget, n: (counts.get(k)?.n ?? 0) + 1 })
    }
    return [...counts.values()].sort((a, b) => b.n - a.n)
  }, [cards])
  const chosen = budgets.find((b) => b.kind === kind && String(b.value) === budget) ?? budgets[0]
  const suiteInfo = suites.find((s) => s.name === suite)
  const shown = useMemo(() => {
    const atBudget = cards.filter((c) => chosen && c.budget.kind === chosen.kind && c.budget.value === chosen.value && c.score != null)
    return sortCards(atBudget, sort.key, sort.desc)
  }, [cards, chosen, sort])
  const tasks = useMemo(() => suiteInfo?.task_names ?? [...new Set(shown.flatMap((c) => Object.keys(c.task_scores ?? {})))].sort(), [suiteInfo, shown])

  const go = (s: string, b?: { kind: string; value: number }) =>
    navigate(`/leaderboard?suite=${s}${b ? `&kind=${b.kind}&budget=${b.value}` : ''}`, true)
  const header = (key: CardSortKey, label: string, title?: string) => {
    const on = sort.key === key
    return (
      <th aria-sort={on ? (sort.desc ? 'descending' : 'ascending') : 'none'} title={title}>
        <button type="button" className="link sort-button" data-testid={`sort-${key}`}
          onClick={() => setSort({ key, desc: on ? !sort.desc : true })}>{label}{on ? (sort.desc ? ' ▼' : ' ▲') : ''}</button>
      </th>
    )
  }

  return (
    <main className="page leaderboard-page" data-testid="leaderboard-page">
      <h1>Leaderboard</h1>
      {error && <p className="field-error" role="alert">{error}</p>}
      <div className="compare-controls">
        <label>suite{' '}
          <select value={suite} onChange={(e) => go(e.target.value)} data-testid="leaderboard-suite">
            {suites.map((s) => <option key={s.name} value={s.name}>{s.title || s.name}</option>)}
          </select>
        </label>
        <label>budget{' '}
          <select value={chosen ? `${chosen.kind}:${chosen.value}` : ''} data-testid="leaderboard-budget"
            onChange={(e) => { const [k, v] = e.target.value.split(':'); go(suite, { kind: k, value: Number(v) }) }}>
            {budgets.map((b) => <option key={`${b.kind}:${b.value}`} value={`${b.kind}:${b.value}`}>{budgetLabel(b)} ({b.n})</option>)}
          </select>
        </label>
        {suiteInfo && <span className="small muted">{suiteInfo.description}</span>}
      </div>
      {shown.length ? (
        <div className="table-scroll">
          <table className="table card" data-testid="leaderboard-table">
            <thead><tr>
              <th>#</th><th>Graph</th><th>By</th>
              {header('params', 'Params')}{header('state', 'State')}{header('wall', 'Wall time')}
              {header('score', 'Score', 'mean over tasks of the best eval accuracy (%)')}
              {tasks.map((t) => header(`task:${t}`, t.replace(/_/g, ' '), `${t}: mean over its settings (%)`))}
            </tr></thead>
            <tbody>
              {shown.map((c, i) => (
                <tr key={c.id} data-testid={`leaderboard-card-${c.id}`}>
                  <td>{i + 1}</td>
                  <td><Link to={`/graphs/${c.graph}`} title="the graph's page: fork it from there">{c.graph_title}</Link> v{c.version}
                    {c.graph_is_template && <span className="badge" title="a reference architecture"> reference</span>}
                    {' '}<Link to={`/cards/${c.id}`} className="small">card</Link></td>
                  <td className="small">{c.user}</td>
                  <td>{formatCount(c.params)}</td>
                  <td>{formatBytes(c.state_bytes)}</td>
                  <td>{formatSeconds(c.wall_seconds)}</td>
                  <td><b>{pct(c.score)}</b></td>
                  {tasks.map((t) => <td key={t}>{pct(c.task_scores?.[t])}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <p className="muted">No finished report cards for this suite yet. Launch one from the editor's Run tab.</p>}
    </main>
  )
}
