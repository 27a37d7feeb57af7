// An unlisted graph opened by its link, /graphs/u/<token>: the token is the only way in for anyone
// but the owner (the graph's numeric URL is 404 to them). Read-only: its diagram, JSON and Python
// exports, and Fork (a copy titled "<title> (fork)" that records whose graph and which version).
import { useEffect, useState } from 'react'
import { canEditGraph, forkSharedGraph, getSharedGraph, sharedDiagramUrl, sharedExportUrl } from '../api'
import { formatDate } from '../lib/format'
import { forkOrigin } from '../lib/share'
import { Link, navigate } from '../router'
import { useSession } from '../store/session'
import type { Graph } from '../types'

export function SharedGraphPage({ token }: { token: string }) {
  const user = useSession((s) => s.user)
  const [graph, setGraph] = useState<Graph | null>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    getSharedGraph(token).then(setGraph).catch((e) => setError(e.status === 404 ? 'No graph is shared at this link (it may have been made private).' : e.message))
  }, [token])

  if (error) return <main className="page"><p className="field-error" role="alert" data-testid="shared-error">{error}</p></main>
  if (!graph) return <main className="page"><p className="muted">Loading…</p></main>

  const fork = async () => {
    try { const g = await forkSharedGraph(token); navigate(`/graphs/${g.id}/edit`) } catch (e) { setError((e as Error).message) }
  }
  const mine = canEditGraph(graph, user)
  return (
    <main className="page graph-page" data-testid="shared-graph-page">
      <div className="page-head">
        <div>
          <h1>{graph.name}</h1>
          <p className="muted small">{graph.owner} · shared by link · v{graph.version} · updated {formatDate(graph.updated)}
            {graph.forked_from && <> · forked from {forkOrigin(graph.forked_from)}</>}</p>
        </div>
        <div className="row">
          {mine && <Link to={`/graphs/${graph.id}/edit`} className="button primary" data-testid="open-editor">Edit</Link>}
          {user ? <button type="button" onClick={fork} data-testid="fork">Fork</button>
            : <Link to="/login" className="button">Log in to fork</Link>}
          <a className="button" href={sharedExportUrl(token, 'json')} download data-testid="shared-export-json">JSON</a>
          <a className="button" href={sharedExportUrl(token, 'py')} download>PyTorch</a>
        </div>
      </div>
      {graph.description && <p>{graph.description}</p>}
      <section className="card">
        <h2>Diagram</h2>
        <img className="diagram" src={sharedDiagramUrl(token)} alt={`Diagram of ${graph.name}`} />
      </section>
    </main>
  )
}
