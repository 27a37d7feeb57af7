// The gallery: templates, public graphs, mine and starred; search and filters.
import { useEffect, useMemo, useState } from 'react'
import { diagramUrl, fetchBlocks, listGraphs, setStar, type GalleryScope } from '../api'
import { formatDate } from '../lib/format'
import { Link, navigate, useLocation } from '../router'
import { useSession } from '../store/session'
import type { BlockType, Graph } from '../types'

const SCOPES: { value: GalleryScope; label: string; auth?: boolean }[] = [
  { value: 'templates', label: 'Templates' },
  { value: 'all', label: 'All' },
  { value: 'public', label: 'Public' },
  { value: 'mine', label: 'Mine', auth: true },
  { value: 'starred', label: 'Starred', auth: true },
]

export function GalleryPage() {
  const { query } = useLocation()
  const user = useSession((s) => s.user)
  const scope = (query.get('scope') as GalleryScope) || 'templates'
  const [q, setQ] = useState(query.get('q') ?? '')
  const [block, setBlock] = useState(query.get('block') ?? '')
  const [ordering, setOrdering] = useState<'recent' | 'stars' | 'forks'>('recent')
  const [blocks, setBlocks] = useState<BlockType[]>([])
  const [graphs, setGraphs] = useState<Graph[] | null>(null)
  const [error, setError] = useState('')

  useEffect(() => {
    fetchBlocks().then(setBlocks).catch(() => undefined)
  }, [])

  useEffect(() => {
    const t = setTimeout(() => {
      setError('')
      listGraphs({ scope, q, block, ordering })
        .then((r) => setGraphs(r.items))
        .catch((e) => { setGraphs([]); setError(e.message) })
    }, 200)
    return () => clearTimeout(t)
  }, [scope, q, block, ordering])

  const families = useMemo(() => {
    const out = new Map<string, BlockType[]>()
    for (const b of blocks) if (!b.structural) out.set(b.family, [...(out.get(b.family) ?? []), b])
    return [...out.entries()]
  }, [blocks])
  const scopes = useMemo(() => SCOPES.filter((s) => !s.auth || user), [user])
  const setScope = (s: GalleryScope) => navigate(`/?scope=${s}`)

  return (
    <main className="page gallery" data-testid="gallery">
      <div className="page-head">
        <h1>Architectures</h1>
        <Link to="/editor" className="button primary" data-testid="new-graph">New architecture</Link>
      </div>
      <div className="tabs" role="tablist" aria-label="Gallery">
        {scopes.map((s) => (
          <button key={s.value} role="tab" type="button" aria-selected={scope === s.value} onClick={() => setScope(s.value)}
            data-testid={`scope-${s.value}`}>{s.label}</button>
        ))}
      </div>
      <div className="filters">
        <input type="search" placeholder="Search by name, description, block…" aria-label="Search architectures"
          value={q} onChange={(e) => setQ(e.target.value)} data-testid="gallery-search" />
        <select aria-label="Uses block" value={block} onChange={(e) => setBlock(e.target.value)} data-testid="gallery-block">
          <option value="">Any block</option>
          {families.map(([family, list]) => (
            <optgroup key={family} label={family}>
              {list.map((b) => <option key={b.name} value={b.name}>{b.title}</option>)}
            </optgroup>
          ))}
        </select>
        <select aria-label="Order" value={ordering} onChange={(e) => setOrdering(e.target.value as typeof ordering)} data-testid="gallery-ordering">
          <option value="recent">Recently updated</option>
          <option value="stars">Most starred</option>
          <option value="forks">Most forked</option>
        </select>
      </div>
      {error && <p className="field-error" role="alert">{error}</p>}
      {graphs === null ? <p className="muted">Loading…</p> : graphs.length === 0 ? (
        <p className="muted" data-testid="gallery-empty">Nothing here yet.</p>
      ) : (
        <ul className="cards">
          {graphs.map((g) => <GraphCard key={String(g.id)} graph={g} canStar={Boolean(user)} />)}
        </ul>
      )}
    </main>
  )
}

function GraphCard({ graph, canStar }: { graph: Graph; canStar: boolean }) {
  const [starred, setStarred] = useState(graph.starred)
  const [stars, setStars] = useState(graph.stars)
  const toggle = async () => {
    const on = !starred
    setStarred(on); setStars((n) => n + (on ? 1 : -1))
    try { await setStar(graph.id, on) } catch { setStarred(!on); setStars((n) => n + (on ? -1 : 1)) }
  }
  return (
    <li className="card graph-card" data-testid={`graph-card-${graph.id}`}>
      <Link to={`/graphs/${graph.id}`} className="graph-card-thumb" aria-label={`Open ${graph.name}`}>
        <img src={diagramUrl(graph.id)} alt="" loading="lazy" onError={(e) => { (e.target as HTMLImageElement).style.visibility = 'hidden' }} />
      </Link>
      <div className="graph-card-body">
        <h2><Link to={`/graphs/${graph.id}`}>{graph.name}</Link></h2>
        {graph.description && <p className="small">{graph.description}</p>}
        <p className="small muted">{graph.owner}{graph.version ? ` · v${graph.version}` : ''} · {formatDate(graph.updated)}</p>
        <div className="row">
          <Link to={`/graphs/${graph.id}/edit`} className="button" data-testid={`open-${graph.id}`}>Open</Link>
          <Link to={`/editor?template=${graph.id}`} className="button" data-testid={`use-${graph.id}`}>Start from this</Link>
          <button type="button" className="star" aria-pressed={starred} disabled={!canStar} onClick={toggle}
            aria-label={starred ? 'Unstar' : 'Star'} data-testid={`star-${graph.id}`}>{starred ? '★' : '☆'} {stars}</button>
        </div>
      </div>
    </li>
  )
}
