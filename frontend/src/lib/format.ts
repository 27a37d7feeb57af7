// Human-readable numbers for the cost bar, tables and charts.

export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  const abs = Math.abs(n)
  if (abs >= 1e12) return `${(n / 1e12).toFixed(2)}T`
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}K`
  return String(Math.round(n))
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

/** Seconds for people: "8.3 s", "42 s", "24 min 0 s", "2 h 5 min". Rounds once, to the unit shown
 * last, before splitting, so 1,439.6 s is "24 min 0 s", never "23 min 60 s". */
export function formatSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '—'
  if (s < 0) return `−${formatSeconds(-s)}`
  if (s < 9.95) return `${s.toFixed(1)} s`
  const whole = Math.round(s)
  if (whole < 60) return `${whole} s`
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`
  const minutes = Math.round(s / 60)
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

export function formatNumber(v: unknown, digits = 4): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v == null ? '—' : String(v)
  if (Number.isInteger(v)) return String(v)
  return v.toPrecision(digits)
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString()
}

/** Decimals (0..6) that write x exactly enough: 0.25 -> 2, 2.5 -> 1, 20 -> 0. */
function decimalsOf(x: number): number {
  for (let d = 0; d < 6; d++) {
    const scaled = Math.abs(x) * 10 ** d
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d
  }
  return 6
}

/** An axis tick: K/M/G/T from 10,000 up, otherwise as many decimals as the tick spacing needs. */
export function formatTick(v: number, incr: number): string {
  if (!Number.isFinite(v)) return ''
  const abs = Math.abs(v)
  if (abs >= 1e4) {
    const [div, unit] = abs >= 1e12 ? [1e12, 'T'] : abs >= 1e9 ? [1e9, 'G'] : abs >= 1e6 ? [1e6, 'M'] : [1e3, 'K']
    return `${(v / div).toFixed(Math.min(3, decimalsOf(incr / div)))}${unit}`
  }
  return v.toFixed(decimalsOf(incr))
}
