// A uPlot line chart created once; later data arrives through setData (uPlot's stream demo).
import { memo, useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface LineSeries {
  label: string
  color: string
  dash?: number[]
  /** Draw each point (for sparse series such as evaluations). */
  points?: boolean
}

interface LineChartProps {
  title: string
  series: LineSeries[]
  /** [x, ...ys]: the same layout uPlot takes. */
  data: (number | null)[][]
  /** Changes whenever `data` has new points. */
  version: number
  yLabel?: string
  logY?: boolean
  height?: number
  testid?: string
}

export const LineChart = memo(function LineChart({ title, series, data, version, yLabel, logY, height = 240, testid }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const dataRef = useRef(data)
  dataRef.current = data
  const key = series.map((s) => s.label + s.color).join('|')

  useEffect(() => {
    const el = box.current
    if (!el) return
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
      axes: [
        { label: 'step', stroke: '#5b6472', grid: { stroke: '#eef0f3' } },
        { label: yLabel, stroke: '#5b6472', grid: { stroke: '#eef0f3' }, size: 56 },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: 'step' },
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: true,
          points: s.points ? { show: true, size: 6, fill: s.color } : { show: false },
        })),
      ],
    }
    plot.current = new uPlot(opts, dataRef.current as uPlot.AlignedData, el)
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }))
    ro.observe(el)
    return () => { ro.disconnect(); plot.current?.destroy(); plot.current = null }
  }, [key, height, yLabel, logY])

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData)
  }, [version, data])

  const points = data[0]?.length ?? 0
  return (
    <figure className="chart" data-testid={testid} data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-box" role="img" aria-label={`${title} chart, ${points} points`} />
    </figure>
  )
})
