// A graph's page: its diagram, versions (restore, diff), forks and lineage, and runs.
import { useCallback, useEffect, useState } from 'react'
import {
  canEditGraph, deleteGraph, diagramUrl, diffVersions, forkGraph, getGraph, getLineage, listRuns, listVersions, restoreVersion, setStar,
} from '../api'
import { Modal } from '../components/Modal'
import { formatDate, formatNumber } from '../lib/format'
import { forkOrigin } from '../lib/share'
import { Link, navigate } from '../router'
import { RunStatusBadge } from '../runs/StatusBadge'
import { useSession } from '../store/session'
import type { Graph, GraphVersion, Run } from '../types'

export function GraphPage({ id }: { id: string }) {
  const user = useSession((s) => s.user)
  const [graph, setGraph] = useState<Graph | null>(null)
  const [error, setError] = useState('')
  const [confirmingDelete, setConfirmingDelete] = useState(false)
  const reload = useCallback(() => getGraph(id).then((g) => setGraph({ ...g, can_edit: canEditGraph(g, user) }))
    .catch((e) => setError(e.message)), [id, user])
  useEffect(() => { void reload() }, [reload])

  if (error) return <main className="page"><p className="field-error" role="alert">{error}</p></main>
  if (!graph) return <main className="page"><p className="muted">Loading…</p></main>

  const fork = async () => {
    try { const g = await forkGraph(graph.id); navigate(`/graphs/${g.id}/edit`) } catch (e) { setError((e as Error).message) }
  }
  const star = async () => {
    await setStar(graph.id, !graph.starred)
    void reload()
  }
  return (
    <main className="page graph-page" data-testid="graph-page">
      <div className="page-head">
        <div>
          <h1>{graph.name}</h1>
          <p className="muted small">{graph.owner} · {graph.visibility} · v{graph.version} · updated {formatDate(graph.updated)}
            {graph.forked_from && <> · <span data-testid="forked-from">forked from {graph.forked_from.link
              ? <Link to={graph.forked_from.link}>{forkOrigin(graph.forked_from)}</Link> : forkOrigin(graph.forked_from)}</span></>}</p>
        </div>
        <div className="row">
          <Link to={`/graphs/${graph.id}/edit`} className="button primary" data-testid="open-editor">{graph.can_edit ? 'Edit' : 'View'}</Link>
          {user && <button type="button" onClick={fork} data-testid="fork">Fork</button>}
          {user && <button type="button" aria-pressed={graph.starred} onClick={star} data-testid="star">{graph.starred ? '★ Starred' : '☆ Star'} {graph.stars}</button>}
          {graph.can_edit && <button type="button" className="danger" onClick={() => setConfirmingDelete(true)} data-testid="delete">Delete</button>}
        </div>
      </div>
      {confirmingDelete && <DeleteDialog graph={graph} onClose={() => setConfirmingDelete(false)} />}
      {graph.description && <p>{graph.description}</p>}
      <div className="graph-page-grid">
        <section className="card">
          <h2>Diagram</h2>
          <img className="diagram" src={diagramUrl(graph.id)} alt={`Diagram of ${graph.name}`} />
        </section>
        <Versions graph={graph} onRestored={reload} />
        <Lineage id={graph.id} />
        <RunsList graphId={graph.id} />
      </div>
    </main>
  )
}

/** Deleting takes the versions and the owner's finished runs along; the server refuses while
 * runs are active or other users' runs refer to the graph, and that reason is shown here. */
function DeleteDialog({ graph, onClose }: { graph: Graph; onClose: () => void }) {
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const remove = async () => {
    setBusy(true)
    try { await deleteGraph(graph.id); navigate('/') } catch (e) { setError((e as Error).message); setBusy(false) }
  }
  return (
    <Modal title={`Delete “${graph.name}”?`} onClose={onClose} testid="delete-dialog">
      <p>Its {graph.version} version{graph.version === 1 ? '' : 's'} and your finished runs of it are deleted too. This cannot be undone.</p>
      {error && <p className="field-error" role="alert">{error}</p>}
      <div className="row">
        <button type="button" onClick={onClose}>Keep it</button>
        <button type="button" className="danger" disabled={busy} onClick={remove} data-testid="delete-confirm">Delete</button>
      </div>
    </Modal>
  )
}

function Versions({ graph, onRestored }: { graph: Graph; onRestored: () => void }) {
  const [versions, setVersions] = useState<GraphVersion[]>([])
  const [a, setA] = useState<number | null>(null)
  const [b, setB] = useState<number | null>(null)
  const [diff, setDiff] = useState<unknown>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    listVersions(graph.id).then((v) => {
      setVersions(v)
      if (v.length >= 2) { setA(v[1].number); setB(v[0].number) }
    }).catch((e) => setError(e.message))
  }, [graph.id, graph.version])
  const showDiff = async () => {
    if (a == null || b == null) return
    try { setDiff(await diffVersions(graph.id, a, b)) } catch (e) { setError((e as Error).message) }
  }
  const restore = async (n: number) => {
    try { await restoreVersion(graph.id, n); onRestored() } catch (e) { setError((e as Error).message) }
  }
  return (
    <section className="card" data-testid="versions">
      <h2>Versions</h2>
      {error && <p className="field-error" role="alert">{error}</p>}
      <table className="table">
        <thead><tr><th>#</th><th>Message</th><th>When</th><th><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.number} data-testid={`version-${v.number}`}>
              <td>v{v.number}</td><td>{v.message || <span className="muted">—</span>}</td><td className="small">{formatDate(v.created)}</td>
              <td>{graph.can_edit && v.number !== graph.version && (
                <button type="button" className="link" onClick={() => restore(v.number)}>Restore</button>)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {versions.length >= 2 && (
        <div className="row">
          <label>From <select value={a ?? ''} onChange={(e) => setA(Number(e.target.value))} data-testid="diff-a">
            {versions.map((v) => <option key={v.number} value={v.number}>v{v.number}</option>)}</select></label>
          <label>to <select value={b ?? ''} onChange={(e) => setB(Number(e.target.value))} data-testid="diff-b">
            {versions.map((v) => <option key={v.number} value={v.number}>v{v.number}</option>)}</select></label>
          <button type="button" onClick={showDiff} data-testid="diff-show">Diff</button>
        </div>
      )}
      {diff != null && <DiffView diff={diff} />}
    </section>
  )
}

/** Shows a diff as lists when it has the usual keys, else as JSON. */
function DiffView({ diff }: { diff: any }) {
  const sections: [string, string][] = [
    ['added', 'added'], ['removed', 'removed'], ['changed', 'changed'],
    ['nodes_added', 'added'], ['nodes_removed', 'removed'], ['nodes_changed', 'changed'],
    ['edges_added', 'added'], ['edges_removed', 'removed'], ['model_changed', 'changed'],
  ]
  const known = sections.filter(([k]) => diff && k in diff)
  if (!known.length) return <pre className="diff" data-testid="diff">{JSON.stringify(diff, null, 2)}</pre>
  return (
    <div className="diff" data-testid="diff">
      {known.map(([k, kind]) => {
        const v = diff[k]
        const list = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.entries(v) : []
        if (!list.length) return null
        return (
          <div key={k} className={`diff-${kind}`}>
            <strong>{k.replace(/_/g, ' ')}</strong>
            <ul>{list.map((x: unknown, i: number) => <li key={i}><code>{typeof x === 'string' ? x : JSON.stringify(x)}</code></li>)}</ul>
          </div>
        )
      })}
    </div>
  )
}

function Lineage({ id }: { id: string | number }) {
  const [data, setData] = useState<any>(null)
  useEffect(() => { getLineage(id).then(setData).catch(() => setData({})) }, [id])
  const ancestors: any[] = data?.ancestors ?? []
  const forks: any[] = data?.forks ?? data?.children ?? []
  return (
    <section className="card" data-testid="lineage">
      <h2>Lineage</h2>
      {ancestors.length > 0 && (
        <ol className="lineage">
          {ancestors.map((g) => <li key={g.id}><Link to={`/graphs/${g.id}`}>{g.title}</Link> <span className="muted small">{g.owner}</span></li>)}
        </ol>
      )}
      <h3 className="small">Forks ({forks.length})</h3>
      {forks.length ? (
        <ul>{forks.map((g) => <li key={g.id} data-testid={`fork-${g.id}`}><Link to={`/graphs/${g.id}`}>{g.title}</Link> <span className="muted small">{g.owner}</span></li>)}</ul>
      ) : <p className="muted small">No forks yet.</p>}
    </section>
  )
}

function RunsList({ graphId }: { graphId: string | number }) {
  const [runs, setRuns] = useState<Run[]>([])
  const [picked, setPicked] = useState<Set<string>>(new Set())
  useEffect(() => { listRuns({ graph: graphId }).then(setRuns).catch(() => setRuns([])) }, [graphId])
  const toggle = (id: string) => setPicked((p) => { const n = new Set(p); if (n.has(id)) n.delete(id); else n.add(id); return n })
  return (
    <section className="card" data-testid="graph-runs">
      <div className="row-between">
        <h2>Runs</h2>
        <button type="button" disabled={picked.size < 2} onClick={() => navigate(`/compare?ids=${[...picked].join(',')}`)} data-testid="compare-picked">
          Compare {picked.size || ''}
        </button>
      </div>
      {runs.length === 0 ? <p className="muted small">No runs yet.</p> : <RunTable runs={runs} picked={picked} onToggle={toggle} />}
    </section>
  )
}

export function RunTable({ runs, picked, onToggle }: { runs: Run[]; picked: Set<string>; onToggle: (id: string) => void }) {
  return (
    <table className="table">
      <thead><tr><th><span className="sr-only">Pick</span></th><th>Run</th><th>Task</th><th>Version</th><th>Status</th><th>Eval loss</th><th>Accuracy</th></tr></thead>
      <tbody>
        {runs.map((r) => (
          <tr key={String(r.id)}>
            <td><input type="checkbox" aria-label={`Pick run ${r.id}`} checked={picked.has(String(r.id))} onChange={() => onToggle(String(r.id))} /></td>
            <td><Link to={`/runs/${r.id}`}>#{String(r.id)}</Link></td>
            <td>{r.task}</td>
            <td>{r.version ? `v${r.version}` : '—'}</td>
            <td><RunStatusBadge status={r.status} result={r.result} hparams={r.hparams} /></td>
            <td>{formatNumber(r.result?.final_eval_loss)}</td>
            <td>{formatNumber(r.result?.eval_accuracy)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
