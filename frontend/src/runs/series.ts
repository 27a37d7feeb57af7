// Accumulates metric points by step into the column arrays uPlot wants, dropping duplicates,
// so replays after a reconnect never draw a point twice and never leave a gap.
import type { MetricPoint } from '../types'

export interface SeriesData {
  steps: number[]
  trainLoss: (number | null)[]
  evalLoss: (number | null)[]
  accuracy: (number | null)[]
}

export class MetricSeries {
  private rows = new Map<number, { train: number | null; eval: number | null; acc: number | null }>()
  last: MetricPoint | null = null
  lastEval: MetricPoint | null = null

  add(p: MetricPoint): void {
    if (typeof p.step !== 'number') return
    const row = this.rows.get(p.step) ?? { train: null, eval: null, acc: null }
    if (p.split === 'eval') {
      if (typeof p.loss === 'number') row.eval = p.loss
      if (typeof p.accuracy === 'number') row.acc = p.accuracy
      this.lastEval = p
    } else {
      if (typeof p.loss === 'number') row.train = p.loss
      if (typeof p.accuracy === 'number' && row.acc == null) row.acc = null
      this.last = p
    }
    this.rows.set(p.step, row)
  }

  get size(): number { return this.rows.size }

  data(): SeriesData {
    const steps = [...this.rows.keys()].sort((a, b) => a - b)
    const out: SeriesData = { steps, trainLoss: [], evalLoss: [], accuracy: [] }
    for (const s of steps) {
      const r = this.rows.get(s)!
      out.trainLoss.push(r.train)
      out.evalLoss.push(r.eval)
      out.accuracy.push(r.acc)
    }
    return out
  }
}
