import { describe, expect, it } from 'vitest'
import { budgetLabel, cardTasks, entriesByRow, radarPoints, sortCards } from '../cards/cardLogic'
import type { CardEntry, ReportCard } from '../types'

const card = (id: number, score: number | null, tasks: Record<string, number> | null = null, params = 1000): ReportCard => ({
  id, graph: id, graph_title: `g${id}`, version: 1, user: 'u', suite: 's', budget: { kind: 'params', value: 1000 }, seeds: 1,
  status: 'succeeded', cancel_requested: false, public: true, params, state_bytes: 0, estimate_seconds: 1, score,
  task_scores: tasks, wall_seconds: 1, graph_is_template: false, progress: { total: 1, done: 1 }, created_at: '', finished_at: null,
})

describe('report cards', () => {
  it('writes budgets in words', () => {
    expect(budgetLabel({ kind: 'params', value: 120000 })).toBe('120.0K params')
    expect(budgetLabel({ kind: 'state', value: 65536 })).toBe('64.0 KiB state')
  })

  it('places radar vertices clockwise from the top, clamped to [0, 1]', () => {
    const [top, right, bottom, left] = radarPoints(['a', 'b', 'c', 'd'], { a: 1, b: 0.5, c: 2, d: null }, 100, 0, 0)
    expect(top[0]).toBeCloseTo(0); expect(top[1]).toBeCloseTo(-100)
    expect(right[0]).toBeCloseTo(50); expect(right[1]).toBeCloseTo(0)
    expect(bottom[1]).toBeCloseTo(100)
    expect(left[0]).toBeCloseTo(0)
  })

  it('sorts the leaderboard by score or by a task, missing values last', () => {
    const cards = [card(1, 0.5, { a: 0.9 }), card(2, 0.7, { a: 0.1 }), card(3, null, null)]
    expect(sortCards(cards, 'score', true).map((c) => c.id)).toEqual([2, 1, 3])
    expect(sortCards(cards, 'score', false).map((c) => c.id)).toEqual([1, 2, 3])
    expect(sortCards(cards, 'task:a', true).map((c) => c.id)).toEqual([1, 2, 3])
  })

  it('groups entries by table row and lists tasks in suite order', () => {
    const e = (key: string, task: string, setting: string): CardEntry => ({
      key, task, setting, seed: 0, lr: 1e-3, weight_decay: 0, run: null, status: null, worker: '', eval_accuracy: null, wall_seconds: null, error: '',
    })
    const entries = [e('1', 'b', 'x'), e('2', 'a', 'y'), e('3', 'b', 'x')]
    expect([...entriesByRow(entries).values()].map((l) => l.map((x) => x.key))).toEqual([['1', '3'], ['2']])
    expect(cardTasks(entries)).toEqual(['b', 'a'])
  })
})
