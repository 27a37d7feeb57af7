// A run's page: what it trained (graph, version, task, hyper-parameters) and its live charts.
import { useEffect, useState } from 'react'
import { getRun } from '../api'
import { formatDate, formatNumber } from '../lib/format'
import { Link } from '../router'
import { RunView } from '../runs/RunView'
import type { Run } from '../types'

export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<Run | null>(null)
  const [error, setError] = useState('')
  useEffect(() => { getRun(id).then(setRun).catch((e) => setError(e.message)) }, [id])
  if (error) return <main className="page"><p className="field-error" role="alert">{error}</p></main>
  if (!run) return <main className="page"><p className="muted">Loading…</p></main>
  return (
    <main className="page run-page" data-testid="run-page">
      <div className="page-head">
        <div>
          <h1>Run #{String(run.id)} · {run.task}</h1>
          <p className="muted small">
            {run.graph && <><Link to={`/graphs/${run.graph.id}`}>{run.graph.name}</Link>{run.version ? ` v${run.version}` : ''} · </>}
            started {formatDate(run.started ?? run.created)}{run.owner ? ` · ${run.owner}` : ''}
          </p>
        </div>
        <Link to={`/compare?ids=${run.id}`} className="button">Compare with…</Link>
      </div>
      <RunView run={run} />
      <div className="graph-page-grid">
        <KeyValues title="Task parameters" values={run.task_params} />
        <KeyValues title="Hyper-parameters and budget" values={run.hparams} />
      </div>
    </main>
  )
}

function KeyValues({ title, values }: { title: string; values: Record<string, unknown> }) {
  const entries = Object.entries(values ?? {})
  return (
    <section className="card">
      <h2>{title}</h2>
      {entries.length ? (
        <table className="table"><tbody>
          {entries.map(([k, v]) => <tr key={k}><th scope="row">{k.replace(/_/g, ' ')}</th><td>{typeof v === 'object' ? JSON.stringify(v) : formatNumber(v)}</td></tr>)}
        </tbody></table>
      ) : <p className="muted small">Defaults.</p>}
    </section>
  )
}
