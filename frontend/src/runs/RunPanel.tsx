// The run panel: pick a task and its params (forms from GET /api/tasks/), hyper-parameters
// and budget (forms from GET /api/limits/ launch: the ranges are the limits a launch enforces), Launch; then follow the run live. The run shown is pinned at the top of the panel
// (scrolled into view on Launch), above the graph's run history, which switches between runs.
import { useEffect, useRef, useState } from 'react'
import { errorText, fetchLimits, fetchTasks, launchRun } from '../api'
import { CardLauncher } from '../cards/CardLauncher'
import { ParamForm } from '../components/ParamForm'
import { defaultsOf, firstProblem } from '../lib/params'
import { Link } from '../router'
import { useEditor } from '../store/editor'
import type { ParamSchema, Params, Run, TaskType } from '../types'
import { RunHistory } from './RunHistory'
import { RunView } from './RunView'

interface RunPanelProps {
  /** Saves the graph if needed and returns its id and version. */
  ensureSaved: () => Promise<{ id: string | number; version: number | null } | null>
  canLaunch: boolean
}

export function RunPanel({ ensureSaved, canLaunch }: RunPanelProps) {
  const [tasks, setTasks] = useState<TaskType[]>([])
  const [task, setTask] = useState('')
  const [taskParams, setTaskParams] = useState<Params>({})
  const [trainSchema, setTrainSchema] = useState<ParamSchema[]>([])
  const [budgetSchema, setBudgetSchema] = useState<ParamSchema[]>([])
  const [hparams, setHparams] = useState<Params>({})
  const [budget, setBudget] = useState<Params>({})
  const [run, setRun] = useState<Run | null>(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const [launched, setLaunched] = useState(0)
  const graphId = useEditor((s) => s.meta.id)
  const live = useRef<HTMLDivElement>(null)

  // Another graph opened in the editor (a fork, say): the run shown was the previous graph's.
  useEffect(() => {
    setRun((r) => (r?.graph && graphId != null && String(r.graph.id) !== String(graphId) ? null : r))
  }, [graphId])

  // Keep the run in view: after Launch (or a pick from the history) the panel scrolls to it.
  useEffect(() => {
    if (run) live.current?.scrollIntoView({ block: 'start' })
  }, [run?.id])

  useEffect(() => {
    fetchLimits().then((limits) => {
      setTrainSchema(limits.launch.hyper); setHparams(defaultsOf(limits.launch.hyper))
      setBudgetSchema(limits.launch.budget); setBudget(defaultsOf(limits.launch.budget))
    }).catch((e) => setError(String(e.message)))
    fetchTasks().then((list) => {
      setTasks(list)
      const first = list.find((t) => t.name === 'mqar') ?? list[0]
      if (first) { setTask(first.name); setTaskParams(defaultsOf(first.params)) }
    }).catch((e) => setError(String(e.message)))
  }, [])

  const current = tasks.find((t) => t.name === task)

  const launch = async () => {
    setError('')
    const problem = firstProblem(current?.params ?? [], taskParams) ?? firstProblem(trainSchema, hparams) ?? firstProblem(budgetSchema, budget)
    if (problem) { setError(problem); return }
    setBusy(true)
    try {
      const saved = await ensureSaved()
      if (!saved) return
      const r = await launchRun(saved.id, {
        task, task_params: taskParams, hparams: { ...hparams, ...budget },
        ...(saved.version ? { version: saved.version } : {}),
      })
      setRun(r)
      setLaunched((n) => n + 1)
    } catch (e) {
      setError(errorText(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="run-panel" data-testid="run-panel">
      {run && (
        <div className="run-panel-live" ref={live} data-testid="run-panel-live">
          <p className="small"><Link to={`/runs/${run.id}`} data-testid="run-link">Run #{String(run.id)}</Link> on {run.task}</p>
          <RunView key={String(run.id)} run={run} compact />
        </div>
      )}
      <RunHistory graphId={graphId} activeId={run?.id ?? null} onPick={setRun} refresh={launched} />
      <div className="field">
        <label htmlFor="task-select"><span className="field-name">task</span></label>
        <select id="task-select" value={task} data-testid="task-select"
          onChange={(e) => { const t = tasks.find((x) => x.name === e.target.value); setTask(e.target.value); setTaskParams(defaultsOf(t?.params ?? [])) }}>
          {tasks.map((t) => <option key={t.name} value={t.name}>{t.title || t.name}</option>)}
        </select>
        {current?.description && <div className="field-help">{current.description}</div>}
      </div>
      <details open><summary>Task parameters</summary>
        <ParamForm schema={current?.params ?? []} values={taskParams} testid="task"
          onChange={(k, v) => setTaskParams((p) => ({ ...p, [k]: v }))} />
      </details>
      <details><summary>Hyper-parameters</summary>
        <ParamForm schema={trainSchema} values={hparams} testid="hparam"
          onChange={(k, v) => setHparams((p) => ({ ...p, [k]: v }))} />
      </details>
      <details><summary>Budget</summary>
        <ParamForm schema={budgetSchema} values={budget} testid="budget"
          onChange={(k, v) => setBudget((p) => ({ ...p, [k]: v }))} />
      </details>
      {error && <p className="field-error" role="alert" data-testid="launch-error">{error}</p>}
      <button type="button" className="primary" onClick={launch} disabled={busy || !task || !canLaunch || !trainSchema.length} data-testid="launch">
        {busy ? 'Launching…' : 'Launch run'}
      </button>
      {!canLaunch && <p className="small muted">Log in to launch runs.</p>}
      <CardLauncher ensureSaved={ensureSaved} canLaunch={canLaunch} />
    </div>
  )
}
