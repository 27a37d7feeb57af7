import { describe, expect, it } from 'vitest'
import type { CompareRun } from '../api'
import { formatSeconds, formatTick } from '../lib/format'
import {
  alignCurves, differingKeys, ema, groupBy, meanBand, metricCurves, seedKey, settingsRow, taskKey, xValues,
} from '../runs/chartData'
import { keyMetric, sparklinePath } from '../runs/sparkline'
import { estimateEta, runOutcome } from '../runs/status'

const run = (id: number, over: Partial<CompareRun> = {}): CompareRun => ({
  id, graph: 1, graph_title: 'g', version: 1, task: 'mqar', status: 'succeeded',
  hyper: { lr: 3e-3, batch_size: 8, steps: 4, seed: id }, budget: { max_seconds: 300, max_tokens: null },
  final_metrics: { params: 1000 }, task_params: { seq_len: 16 }, seed: id, cost: { params: 1000, flops_per_token: 2000 },
  series: { 'train.loss': [4, 3, 2, 1], 'train.tokens': [128, 256, 384, 512], 'train.elapsed_s': [1, 2, 3, 4], 'eval.loss': [null, null, null, 1.5] },
  ...over,
})

describe('durations', () => {
  it('never prints 60 s or 60 min', () => {
    expect(formatSeconds(1439.6)).toBe('24 min 0 s')
    expect(formatSeconds(59.6)).toBe('1 min 0 s')
    expect(formatSeconds(3599.7)).toBe('1 h 0 min')
    expect(formatSeconds(7170)).toBe('2 h 0 min')
    expect(formatSeconds(9.96)).toBe('10 s')
    expect(formatSeconds(8.34)).toBe('8.3 s')
    expect(formatSeconds(null)).toBe('—')
  })

  it('writes ticks as exactly as their spacing needs', () => {
    expect(formatTick(0.25, 0.05)).toBe('0.25')
    expect(formatTick(2.5, 0.5)).toBe('2.5')
    expect(formatTick(40, 20)).toBe('40')
    expect(formatTick(22500, 2500)).toBe('22.5K')
    expect(formatTick(3e9, 1e9)).toBe('3G')
  })
})

describe('run status', () => {
  it('says when a budget, not the steps, ended a run', () => {
    const o = runOutcome('succeeded', { stopped: 'time', steps: 39 }, 200)
    expect(o).toMatchObject({ tone: 'budget', detail: 'stopped by time budget at step 39/200' })
    expect(runOutcome('succeeded', { stopped: 'tokens', steps: 5 }, 200).detail).toBe('stopped by token budget at step 5/200')
    expect(runOutcome('succeeded', { stopped: 'steps', steps: 200 }, 200)).toMatchObject({ tone: 'succeeded', detail: 'completed 200/200 steps' })
    expect(runOutcome('succeeded', { stopped: 'target', steps: 120 }, 200)).toMatchObject({ tone: 'target', badge: 'reached target' })
    expect(runOutcome('failed', { stopped: 'diverged', steps: 7 }, 200).detail).toBe('loss diverged at step 7/200')
    expect(runOutcome('running', null, 200).tone).toBe('running')
  })

  it('estimates the time left as the earliest of steps and budgets', () => {
    // 10 s for 20 of 200 steps: 90 s by steps, but the 5-minute budget... is later; a 30 s budget is not.
    expect(estimateEta({ step: 20, totalSteps: 200, elapsed: 10, maxSeconds: 300 })).toEqual({ seconds: 90, by: 'steps' })
    expect(estimateEta({ step: 20, totalSteps: 200, elapsed: 10, maxSeconds: 30 })).toEqual({ seconds: 20, by: 'time' })
    expect(estimateEta({ step: 20, totalSteps: 200, elapsed: 10, tokens: 1000, maxTokens: 1500, tokensPerS: 100 })).toEqual({ seconds: 5, by: 'tokens' })
    expect(estimateEta({ step: 0, totalSteps: 200, elapsed: null })).toBeNull()
  })
})

describe('compare', () => {
  it('finds the settings that differ', () => {
    const a = settingsRow(run(1))
    const b = settingsRow(run(2, { hyper: { lr: 1e-3, batch_size: 8, steps: 4, seed: 2 } }))
    expect([...differingKeys([a, b])].sort()).toEqual(['lr', 'seed'])
    expect(a['task.seq_len']).toBe(16)
    expect(differingKeys([a, { ...a, extra: 1 }]).has('extra')).toBe(true)
  })

  it('smooths with a debiased EMA and skips gaps', () => {
    expect(ema([1, null, 1, 1], 0.9)).toEqual([1, null, 1, 1])
    const s = ema([0, 10], 0.5) as number[]
    expect(s[0]).toBe(0)
    expect(s[1]).toBeCloseTo(5 / 0.75) // 0.5 x 0 + 0.5 x 10, debiased by 1 - 0.5^2
    expect(ema([1, 2], 0)).toEqual([1, 2])
  })

  it('groups runs that differ only by seed, and runs by task setting', () => {
    const runs = [run(1), run(2), run(3, { hyper: { lr: 1e-3, batch_size: 8, steps: 4, seed: 3 } }), run(4, { task_params: { seq_len: 32 } })]
    expect(groupBy(runs, seedKey).map((g) => g.items.map((r) => r.id))).toEqual([[1, 2], [3], [4]])
    expect(groupBy(runs, taskKey).map((g) => g.items.map((r) => r.id))).toEqual([[1, 2, 3], [4]])
  })

  it('takes the mean and spread over seeds', () => {
    expect(meanBand([[1, null, 3], [3, null, 5]])).toEqual({ mean: [2, null, 4], lo: [1, null, 3], hi: [3, null, 5] })
    const curves = metricCurves([run(1), run(2, { series: { ...run(2).series, 'train.loss': [6, 5, 4, 3] } })], [1, 2, 3, 4], 'train.loss',
      { axis: 'step', smoothing: 0, aggregate: true })
    expect(curves).toHaveLength(1)
    expect(curves[0].curve.ys).toEqual([5, 4, 3, 2])
    expect(curves[0].curve.lo).toEqual([4, 3, 2, 1])
  })

  it('puts x in steps, tokens, wall time or training FLOPs', () => {
    const steps = [1, 2, 3, 4]
    expect(xValues(run(1), steps, 'tokens')).toEqual([128, 256, 384, 512])
    expect(xValues(run(1, { series: { ...run(1).series, 'train.elapsed_s': [1, 2, null, 4] } }), steps, 'time')).toEqual([1, 2, 2, 4])
    expect(xValues(run(1), steps, 'flops')[0]).toBe(128 * 3 * 2000)
    expect(xValues(run(1, { cost: {} }), steps, 'flops')[0]).toBe(128 * 6 * 1000)
  })

  it('aligns curves with different x values, keeping single points', () => {
    const { x, ys } = alignCurves([{ xs: [1, 2, 3], ys: [1, 2, 3] }, { xs: [1.5, 2.5, 3.5], ys: [null, null, 9] }])
    expect(x).toEqual([1, 2, 3, 3.5])
    expect(ys[1]).toEqual([null, null, null, 9])
  })
})

describe('run history', () => {
  it('draws a sparkline through the values it has', () => {
    expect(sparklinePath([3, null, 1], 10, 10)).toBe('M1,1L9,9')
    expect(sparklinePath([2], 10, 10)).toBe('M4,5h2')
    expect(sparklinePath([], 10, 10)).toBe('')
    expect(sparklinePath(Array.from({ length: 1000 }, (_, i) => i), 50, 10).split('L').length).toBeLessThanOrEqual(51)
  })

  it('shows accuracy first, then a loss', () => {
    expect(keyMetric({ eval_accuracy: 0.875, final_eval_loss: 1 })?.text).toBe('87.5 %')
    expect(keyMetric({ final_eval_loss: 1.23456 })).toEqual({ text: '1.23', title: 'final eval loss' })
    expect(keyMetric(null)).toBeNull()
  })
})
