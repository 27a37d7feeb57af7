// Pure logic of the compare page and run charts: which settings differ between runs, EMA
// smoothing, grouping by task and by everything-but-the-seed, x axes (step, tokens, wall time,
// training FLOPs), mean and spread over seeds, and aligning curves with different x values on the
// one x array uPlot wants.
import type { CompareRun } from '../api'

export type XAxis = 'step' | 'tokens' | 'time' | 'flops'

export const X_AXES: { value: XAxis; label: string; unit: string }[] = [
  { value: 'step', label: 'step', unit: 'step' },
  { value: 'tokens', label: 'tokens', unit: 'training tokens' },
  { value: 'time', label: 'wall time', unit: 'wall time (s)' },
  { value: 'flops', label: 'training FLOPs', unit: 'training FLOPs' },
]

type Cell = number | null

/** Non-null values per column of [x, ...ys]. */
export function nonNullCounts(data: (Cell | undefined)[][]): number[] {
  return data.map((col) => {
    let n = 0
    for (const v of col) if (v != null) n++
    return n
  })
}

/** Exponential moving average with TensorBoard's debiasing; nulls stay null and are skipped. */
export function ema(values: Cell[], weight: number): Cell[] {
  if (!(weight > 0)) return values.slice()
  const w = Math.min(weight, 0.999)
  let acc = 0
  let n = 0
  return values.map((v) => {
    if (v == null || !Number.isFinite(v)) return v
    acc = w * acc + (1 - w) * v
    n++
    return acc / (1 - w ** n)
  })
}

/** JSON with object keys sorted, so equal settings compare equal whatever their order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v ?? null)
}

/** Keys (over the union of all rows) whose values are not the same in every row. */
export function differingKeys(rows: Record<string, unknown>[]): Set<string> {
  const keys = new Set(rows.flatMap((r) => Object.keys(r)))
  const out = new Set<string>()
  for (const k of keys) {
    const first = stableJson(rows[0]?.[k])
    if (rows.some((r) => stableJson(r[k]) !== first)) out.add(k)
  }
  return out
}

/** Groups in order of first appearance. */
export function groupBy<T>(items: T[], keyOf: (t: T) => string): { key: string; items: T[] }[] {
  const groups = new Map<string, T[]>()
  for (const it of items) {
    const k = keyOf(it)
    const g = groups.get(k)
    if (g) g.push(it)
    else groups.set(k, [it])
  }
  return [...groups].map(([key, list]) => ({ key, items: list }))
}

type RunSettings = Pick<CompareRun, 'task' | 'task_params'> & Partial<Pick<CompareRun, 'graph' | 'version' | 'hyper' | 'budget'>>

/** Runs with the same key are on the same task with the same task parameters. */
export const taskKey = (r: RunSettings) => stableJson({ task: r.task, params: r.task_params ?? {} })

/** Runs with the same key differ at most by their seed. */
export function seedKey(r: RunSettings): string {
  const { seed: _seed, ...hyper } = (r.hyper ?? {}) as Record<string, unknown>
  return stableJson({ graph: r.graph, version: r.version, task: r.task, params: r.task_params ?? {}, hyper, budget: r.budget ?? {} })
}

/** One row of settings for the table and its diff: hyper-parameters, budget, seed, task parameters. */
export function settingsRow(r: CompareRun): Record<string, unknown> {
  const row: Record<string, unknown> = { ...(r.hyper ?? {}), ...(r.budget ?? {}) }
  if (r.seed != null) row.seed = r.seed
  row.task = r.task
  for (const [k, v] of Object.entries(r.task_params ?? {})) row[`task.${k}`] = v
  return row
}

const numAt = (col: Cell[] | undefined, i: number): number | null => {
  const v = col?.[i]
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** How training FLOPs are counted for a run: 3 x the cost model's forward FLOPs per token
 * (forward + backward), or 6 x params when the run has no cost model numbers. */
export function flopsPerToken(r: CompareRun): { perToken: number | null; how: 'cost model' | '6 x params' | null } {
  const fwd = r.cost?.flops_per_token
  if (typeof fwd === 'number' && fwd > 0) return { perToken: 3 * fwd, how: 'cost model' }
  const params = r.cost?.params ?? (r.final_metrics?.params as number | undefined)
  if (typeof params === 'number' && params > 0) return { perToken: 6 * params, how: '6 x params' }
  return { perToken: null, how: null }
}

/** The run's x value at each of `steps` on the chosen axis (null where unknown). */
export function xValues(r: CompareRun, steps: number[], axis: XAxis): Cell[] {
  if (axis === 'step') return steps
  if (axis === 'time') {
    // Evaluations share the step of the train point just before them: carry its elapsed time.
    const elapsed = r.series['train.elapsed_s']
    let last: number | null = null
    return steps.map((_, i) => (last = numAt(elapsed, i) ?? last))
  }
  // Tokens grow by batch x length each step: one known (step, tokens) gives the rate.
  const tokens = r.series['train.tokens']
  let perStep: number | null = null
  for (let i = 0; i < steps.length && perStep == null; i++) {
    const t = numAt(tokens, i)
    if (t != null && steps[i] > 0) perStep = t / steps[i]
  }
  if (perStep == null) return steps.map(() => null)
  const mult = axis === 'flops' ? flopsPerToken(r).perToken : 1
  if (mult == null) return steps.map(() => null)
  return steps.map((s) => s * perStep! * mult)
}

/** Mean, min and max per index over several aligned columns (null where none has a value). */
export function meanBand(columns: Cell[][]): { mean: Cell[]; lo: Cell[]; hi: Cell[] } {
  const n = Math.max(0, ...columns.map((c) => c.length))
  const mean: Cell[] = []
  const lo: Cell[] = []
  const hi: Cell[] = []
  for (let i = 0; i < n; i++) {
    let sum = 0
    let count = 0
    let min = Infinity
    let max = -Infinity
    for (const c of columns) {
      const v = numAt(c, i)
      if (v == null) continue
      sum += v
      count++
      if (v < min) min = v
      if (v > max) max = v
    }
    mean.push(count ? sum / count : null)
    lo.push(count ? min : null)
    hi.push(count ? max : null)
  }
  return { mean, lo, hi }
}

export interface Curve {
  /** Parallel arrays on one run's (or seed group's) step grid. */
  xs: Cell[]
  ys: Cell[]
  lo?: Cell[]
  hi?: Cell[]
}

/** Curves with different x values on one sorted x array, null where a curve has no point. */
export function alignCurves(curves: Curve[]): { x: number[]; ys: Cell[][]; lo: (Cell[] | null)[]; hi: (Cell[] | null)[] } {
  const set = new Set<number>()
  for (const c of curves) {
    for (let i = 0; i < c.xs.length; i++) {
      const x = c.xs[i]
      if (x != null && c.ys[i] != null) set.add(x)
    }
  }
  const x = [...set].sort((a, b) => a - b)
  const at = new Map(x.map((v, i) => [v, i]))
  const blank = () => new Array<Cell>(x.length).fill(null)
  const ys: Cell[][] = []
  const lo: (Cell[] | null)[] = []
  const hi: (Cell[] | null)[] = []
  for (const c of curves) {
    const y = blank()
    const l = c.lo ? blank() : null
    const h = c.hi ? blank() : null
    for (let i = 0; i < c.xs.length; i++) {
      const xv = c.xs[i]
      if (xv == null || c.ys[i] == null) continue
      const j = at.get(xv)!
      y[j] = c.ys[i]
      if (l) l[j] = c.lo![i]
      if (h) h[j] = c.hi![i]
    }
    ys.push(y)
    lo.push(l)
    hi.push(h)
  }
  return { x, ys, lo, hi }
}

export interface ChartOptions {
  axis: XAxis
  /** EMA weight in [0, 1); applied to train curves (evaluations are sparse). */
  smoothing: number
  /** Mean and a min-max band over runs that differ only by seed. */
  aggregate: boolean
}

export interface ChartSeries {
  /** The runs drawn by this series (one, or a seed group). */
  runs: CompareRun[]
  curve: Curve
}

/** The series of one metric ("train.loss", "eval.accuracy", ...) for runs on the step grid `steps`. */
export function metricCurves(runs: CompareRun[], steps: number[], metric: string, opts: ChartOptions): ChartSeries[] {
  const smooth = metric.startsWith('train.') ? opts.smoothing : 0
  const one = (r: CompareRun): Curve => {
    const raw = r.series[metric] ?? steps.map(() => null)
    return { xs: xValues(r, steps, opts.axis), ys: smooth > 0 ? ema(raw, smooth) : raw }
  }
  const groups = opts.aggregate ? groupBy(runs, seedKey) : runs.map((r) => ({ key: String(r.id), items: [r] }))
  return groups.map(({ items: members }) => {
    if (members.length === 1) return { runs: members, curve: one(members[0]) }
    const curves = members.map(one)
    const { mean, lo, hi } = meanBand(curves.map((c) => c.ys))
    return { runs: members, curve: { xs: meanBand(curves.map((c) => c.xs)).mean, ys: mean, lo, hi } }
  })
}
