// A radar chart over a suite's tasks (SVG): one polygon per card, scores 0..1 from the centre.
import { radarPoints } from './cardLogic'

export interface RadarLayer {
  label: string
  color: string
  values: Record<string, number | null | undefined>
  /** The card this page is about: drawn on top, filled. */
  main?: boolean
}

const SIZE = 320
const R = 110
const C = SIZE / 2
const PAD = 80 // room for the axis labels either side

export function RadarChart({ axes, layers, testid }: { axes: string[]; layers: RadarLayer[]; testid?: string }) {
  if (axes.length < 3) {
    // Fewer than three axes make no polygon: a bar per task says the same.
    return (
      <ul className="radar-bars" data-testid={testid}>
        {axes.map((a) => <li key={a}>{a}: {layers.map((l) => <b key={l.label} style={{ color: l.color }}> {fmt(l.values[a])}</b>)}</li>)}
      </ul>
    )
  }
  const ring = (f: number) => radarPoints(axes, Object.fromEntries(axes.map((a) => [a, f])), R, C, C).map((p) => p.join(',')).join(' ')
  const ordered = [...layers.filter((l) => !l.main), ...layers.filter((l) => l.main)]
  return (
    <figure className="radar card" data-testid={testid}>
      <svg viewBox={`${-PAD} -12 ${SIZE + 2 * PAD} ${SIZE + 24}`} width="100%" style={{ maxWidth: SIZE + 2 * PAD }} role="img"
        aria-label={`Scores per task: ${layers.map((l) => `${l.label} ${axes.map((a) => `${a} ${fmt(l.values[a])}`).join(', ')}`).join('; ')}`}>
        {[0.25, 0.5, 0.75, 1].map((f) => <polygon key={f} points={ring(f)} className="radar-ring" />)}
        {radarPoints(axes, Object.fromEntries(axes.map((a) => [a, 1])), R, C, C).map(([x, y], i) => {
          const anchor = Math.abs(x - C) < 4 ? 'middle' : x > C ? 'start' : 'end'
          const dx = (x - C) * 0.12
          const dy = (y - C) * 0.12
          return (
            <g key={axes[i]}>
              <line x1={C} y1={C} x2={x} y2={y} className="radar-axis" />
              <text x={x + dx} y={y + dy} textAnchor={anchor} dominantBaseline="middle" className="radar-label">{axes[i].replace(/_/g, ' ')}</text>
            </g>
          )
        })}
        {ordered.map((l) => (
          <polygon key={l.label} points={radarPoints(axes, l.values, R, C, C).map((p) => p.join(',')).join(' ')}
            fill={l.color} fillOpacity={l.main ? 0.25 : 0.06} stroke={l.color} strokeWidth={l.main ? 2 : 1.5}
            strokeDasharray={l.main ? undefined : '4 3'} data-testid={l.main ? 'radar-main' : 'radar-reference'}>
            <title>{l.label}: {axes.map((a) => `${a} ${fmt(l.values[a])}`).join(', ')}</title>
          </polygon>
        ))}
      </svg>
      <figcaption className="radar-legend">
        {layers.map((l) => <span key={l.label}><i style={{ background: l.color }} /> {l.label}</span>)}
      </figcaption>
    </figure>
  )
}

const fmt = (v: number | null | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(0)} %` : '—')
