// Pure logic of the report-card pages: budgets in words,
// the radar chart's geometry, the leaderboard's sort, and a card's entries grouped by table row.
import { formatBytes, formatCount } from '../lib/format'
import type { CardEntry, ReportCard } from '../types'

export function budgetLabel(budget: { kind: string; value: number } | null | undefined): string {
  if (!budget) return '—'
  return budget.kind === 'state' ? `${formatBytes(budget.value)} state` : `${formatCount(budget.value)} params`
}

/** Vertices of a radar polygon: axis i at angle -90° + i x 360°/n, value in [0, 1] along it. */
export function radarPoints(axes: string[], values: Record<string, number | null | undefined>, radius: number, cx: number, cy: number): [number, number][] {
  const n = axes.length
  return axes.map((axis, i) => {
    const v = values[axis]
    const r = radius * Math.max(0, Math.min(1, typeof v === 'number' && Number.isFinite(v) ? v : 0))
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n)
    return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)]
  })
}

export type CardSortKey = 'score' | 'params' | 'state' | 'wall' | `task:${string}`

function sortValue(card: ReportCard, key: CardSortKey): number | null {
  if (key === 'score') return card.score
  if (key === 'params') return card.params
  if (key === 'state') return card.state_bytes
  if (key === 'wall') return card.wall_seconds
  return card.task_scores?.[key.slice(5)] ?? null
}

/** Sorted copy; cards without the value last whichever the direction. */
export function sortCards(cards: ReportCard[], key: CardSortKey, descending: boolean): ReportCard[] {
  return cards.slice().sort((a, b) => {
    const va = sortValue(a, key)
    const vb = sortValue(b, key)
    if (va == null || vb == null) return va == null ? (vb == null ? 0 : 1) : -1
    return descending ? vb - va : va - vb
  })
}

export const rowKey = (task: string, setting: string) => `${task}\u0000${setting}`

/** A card's entries by (task, setting): the runs behind one row of its table. */
export function entriesByRow(entries: CardEntry[]): Map<string, CardEntry[]> {
  const out = new Map<string, CardEntry[]>()
  for (const e of entries) {
    const k = rowKey(e.task, e.setting)
    const list = out.get(k)
    if (list) list.push(e)
    else out.set(k, [e])
  }
  return out
}

/** The tasks of a card in suite order (from its entries), for the radar's axes. */
export function cardTasks(entries: CardEntry[]): string[] {
  return [...new Set(entries.map((e) => e.task))]
}
