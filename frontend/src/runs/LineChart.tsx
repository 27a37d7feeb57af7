// A uPlot line chart created once; later data arrives through setData (uPlot's stream demo).
// Sparse series (an evaluation every 50 steps, or a single final one) are drawn as points, so a
// series with one point is visible; the cursor snaps each series to its nearest point and a
// tooltip gives x and each value; axes get several ticks with units; optional bands (a spread
// over seeds) are filled behind the lines.
import { memo, useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatTick } from '../lib/format'
import { nonNullCounts } from './chartData'

export interface LineSeries {
  label: string
  color: string
  dash?: number[]
  /** Always draw each point (for sparse series such as evaluations). */
  points?: boolean
  width?: number
}

export interface Band {
  /** Aligned with data[0]. */
  lo: (number | null)[]
  hi: (number | null)[]
  fill: string
}

interface LineChartProps {
  title: string
  series: LineSeries[]
  /** [x, ...ys]: the same layout uPlot takes. */
  data: (number | null)[][]
  /** Changes whenever `data` has new points. */
  version: number
  xLabel?: string
  /** Formats an x value in the tooltip ("step 40", "1.2M tokens"). */
  xFormat?: (x: number) => string
  yLabel?: string
  /** A fixed y range, e.g. [0, 1] for accuracy. */
  yRange?: [number, number]
  /** Formats a y value in the tooltip. */
  yFormat?: (y: number) => string
  logY?: boolean
  height?: number
  testid?: string
  bands?: Band[]
  /** Shown as the chart's title attribute (e.g. how training FLOPs are counted). */
  hint?: string
  /** A small chart: a legend of names only (the tooltip gives values), ticks closer together. */
  compact?: boolean
  /** x is a count (steps, tokens): whole-number ticks only. */
  xIntegers?: boolean
  /** Values under the cursor in the legend too (the tooltip always has them). */
  legendValues?: boolean
}

const AXIS = { stroke: '#5b6472', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d5d9e0' } }
const tickValues = (_u: uPlot, splits: number[]) => {
  const incr = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : Math.abs(splits[0] || 1)
  return splits.map((v) => formatTick(v, incr))
}
/** 1, 2, 5, 10, 20, 25, 50, ... up to 1e15: tick spacings for counts. */
const INTEGER_INCRS = Array.from({ length: 15 }, (_, e) => [1, 2, 2.5, 5].map((m) => m * 10 ** e)).flat().filter((v) => Number.isInteger(v))
const defaultY = (y: number) => (Math.abs(y) >= 1e4 ? formatTick(y, 1) : y.toPrecision(4))

/** A y range that never collapses: a single value gets padding around it. */
function yRangeOf(fixed: [number, number] | undefined, logY: boolean | undefined): uPlot.Range.Function | [number, number] | undefined {
  if (fixed) return fixed
  if (logY) return undefined
  return (_u, min, max) => {
    if (min == null || max == null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1]
    if (min === max) {
      const pad = Math.abs(min) * 0.1 || 0.5
      return [min - pad, max + pad]
    }
    const pad = (max - min) * 0.05
    return [min - pad, max + pad]
  }
}

/** For sparse series, the cursor moves to the nearest x where the series has a value. */
function nearestValue(u: uPlot, seriesIdx: number, closestIdx: number): number {
  const ys = u.data[seriesIdx] as (number | null | undefined)[]
  if (!ys || ys[closestIdx] != null) return closestIdx
  const xs = u.data[0] as number[]
  const x = xs[closestIdx]
  let lo = closestIdx - 1
  let hi = closestIdx + 1
  while (lo >= 0 && ys[lo] == null) lo--
  while (hi < ys.length && ys[hi] == null) hi++
  const hasLo = lo >= 0
  const hasHi = hi < ys.length
  if (!hasLo && !hasHi) return closestIdx
  if (!hasHi) return lo
  if (!hasLo) return hi
  return x - xs[lo] <= xs[hi] - x ? lo : hi
}

function tooltipPlugin(xFormat: (x: number) => string, yFormat: (y: number) => string): uPlot.Plugin {
  let tip: HTMLDivElement
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div')
        tip.className = 'chart-tooltip'
        tip.setAttribute('data-testid', 'chart-tooltip')
        tip.style.display = 'none'
        u.over.appendChild(tip)
      },
      setCursor: (u) => {
        const { left, top, idx } = u.cursor
        if (idx == null || left == null || left < 0) { tip.style.display = 'none'; return }
        const rows: string[] = []
        const idxs = u.cursor.idxs ?? []
        let x: number | null = null
        u.series.forEach((s, i) => {
          if (i === 0 || !s.show) return
          const at = idxs[i] ?? idx
          const y = (u.data[i] as (number | null)[])[at]
          if (y == null) return
          if (x == null) x = (u.data[0] as number[])[at]
          rows.push(`<div><i style="background:${String(s.stroke && typeof s.stroke === 'function' ? s.stroke(u, i) : s.stroke)}"></i>${escapeHtml(String(s.label ?? ''))}: <b>${yFormat(y)}</b></div>`)
        })
        if (!rows.length) { tip.style.display = 'none'; return }
        tip.innerHTML = `<div class="chart-tooltip-x">${xFormat(x ?? (u.data[0] as number[])[idx])}</div>${rows.join('')}`
        tip.style.display = 'block'
        const width = u.over.clientWidth
        const flip = left > width / 2
        tip.style.left = flip ? '' : `${left + 12}px`
        tip.style.right = flip ? `${width - left + 12}px` : ''
        tip.style.top = `${Math.max(0, (top ?? 0) - 10)}px`
      },
    },
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!))

function bandsPlugin(bands: { current: Band[] | undefined }): uPlot.Plugin {
  return {
    hooks: {
      // After the axes and grid, before the series: bands sit behind the lines.
      drawAxes: (u) => {
        const list = bands.current
        if (!list?.length) return
        const xs = u.data[0] as number[]
        const ctx = u.ctx
        ctx.save()
        ctx.beginPath()
        ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height)
        ctx.clip()
        for (const band of list) {
          ctx.fillStyle = band.fill
          let i = 0
          while (i < xs.length) {
            while (i < xs.length && (band.lo[i] == null || band.hi[i] == null)) i++
            const start = i
            while (i < xs.length && band.lo[i] != null && band.hi[i] != null) i++
            if (i - start < 2) continue
            ctx.beginPath()
            for (let j = start; j < i; j++) ctx.lineTo(u.valToPos(xs[j], 'x', true), u.valToPos(band.hi[j]!, 'y', true))
            for (let j = i - 1; j >= start; j--) ctx.lineTo(u.valToPos(xs[j], 'x', true), u.valToPos(band.lo[j]!, 'y', true))
            ctx.closePath()
            ctx.fill()
          }
        }
        ctx.restore()
      },
    },
  }
}

export const LineChart = memo(function LineChart({
  title, series, data, version, xLabel = 'step', xFormat, yLabel, yRange, yFormat, logY, height = 240, testid, bands, hint, compact = false, xIntegers = false, legendValues = true,
}: LineChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const dataRef = useRef(data)
  dataRef.current = data
  const bandsRef = useRef(bands)
  bandsRef.current = bands
  const counts = useRef<number[]>([])
  counts.current = nonNullCounts(data)
  const fmt = useRef({ x: xFormat, y: yFormat })
  fmt.current = { x: xFormat, y: yFormat }
  const key = series.map((s) => s.label + s.color + (s.dash ?? '')).join('|')

  useEffect(() => {
    const el = box.current
    if (!el) return
    // A series is drawn with points when it has few values for the width (one value included).
    const showPoints = (s: LineSeries) => (u: uPlot, seriesIdx: number) =>
      Boolean(s.points) || (counts.current[seriesIdx] ?? 0) * 6 < u.bbox.width / uPlot.pxRatio
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false }, y: logY ? { distr: 3 } : { range: yRangeOf(yRange, logY) } },
      axes: [
        { ...AXIS, label: xLabel, values: tickValues, space: 60, ...(xIntegers ? { incrs: INTEGER_INCRS } : {}) },
        { ...AXIS, label: yLabel, values: tickValues, space: compact ? 16 : 24, size: 60 },
      ],
      legend: { live: legendValues && !compact },
      cursor: { drag: { x: true, y: false }, dataIdx: (u, seriesIdx, closestIdx) => nearestValue(u, seriesIdx, closestIdx) },
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: s.width ?? 2, dash: s.dash, spanGaps: true,
          points: { show: showPoints(s), size: 6, fill: s.color, stroke: s.color },
        })),
      ],
      plugins: [
        bandsPlugin(bandsRef),
        tooltipPlugin(
          (x) => (fmt.current.x ? fmt.current.x(x) : `${xLabel} ${formatTick(x, 1)}`),
          (y) => (fmt.current.y ? fmt.current.y(y) : defaultY(y)),
        ),
      ],
    }
    plot.current = new uPlot(opts, dataRef.current as uPlot.AlignedData, el)
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }))
    ro.observe(el)
    return () => { ro.disconnect(); plot.current?.destroy(); plot.current = null }
  }, [key, height, xLabel, yLabel, logY, yRange?.[0], yRange?.[1], compact, xIntegers, legendValues])

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData)
  }, [version, data, bands])

  const points = data[0]?.length ?? 0
  return (
    <figure className="chart" data-testid={testid} data-points={points} data-series-counts={counts.current.slice(1).join(',')} title={hint}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={`${title} chart, ${points} points`} />
    </figure>
  )
})
