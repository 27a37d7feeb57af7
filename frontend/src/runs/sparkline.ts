// Small pure helpers for run lists: a sparkline path and the one metric worth showing.

/** An SVG path through the non-null values, scaled into w x h (at most ~w points, evenly sampled). */
export function sparklinePath(values: (number | null | undefined)[], w: number, h: number): string {
  const points: [number, number][] = []
  values.forEach((v, i) => { if (typeof v === 'number' && Number.isFinite(v)) points.push([i, v]) })
  if (!points.length) return ''
  const every = Math.max(1, Math.ceil(points.length / w))
  const sampled = points.filter((_, i) => i % every === 0 || i === points.length - 1)
  const xs = sampled.map((p) => p[0])
  const ys = sampled.map((p) => p[1])
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)]
  const sx = (x: number) => (x1 > x0 ? ((x - x0) / (x1 - x0)) * (w - 2) + 1 : w / 2)
  const sy = (y: number) => (y1 > y0 ? h - 1 - ((y - y0) / (y1 - y0)) * (h - 2) : h / 2)
  const r = (n: number) => Math.round(n * 10) / 10
  if (sampled.length === 1) {
    const [x, y] = [r(sx(xs[0])), r(sy(ys[0]))]
    return `M${r(x - 1)},${y}h2` // one value: a short dash
  }
  return sampled.map(([x, y], i) => `${i ? 'L' : 'M'}${r(sx(x))},${r(sy(y))}`).join('')
}

/** Eval accuracy when the run has one, else the final eval (or train) loss. */
export function keyMetric(result: Record<string, unknown> | null | undefined): { text: string; title: string } | null {
  const acc = result?.eval_accuracy
  if (typeof acc === 'number' && Number.isFinite(acc)) return { text: `${(acc * 100).toFixed(1)} %`, title: 'final eval accuracy' }
  for (const [key, title] of [['final_eval_loss', 'final eval loss'], ['final_train_loss', 'final train loss']] as const) {
    const v = result?.[key]
    if (typeof v === 'number' && Number.isFinite(v)) return { text: v.toPrecision(3), title }
  }
  return null
}
