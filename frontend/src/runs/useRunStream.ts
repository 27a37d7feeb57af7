// Follows a run over its websocket. The server replays everything after `since` on connect;
// a dropped connection reconnects with the last seq seen, so the curve continues without a gap.
import { useEffect, useRef, useState } from 'react'
import { getRun, runSocketUrl } from '../api'
import type { MetricPoint, Run, RunMessage, RunStatus } from '../types'
import { MetricSeries } from './series'

export interface RunLive {
  status: RunStatus | 'unknown'
  queuePosition: number | null
  lastSeq: number
  connected: boolean
  result: Record<string, unknown> | null
  error: string
  logs: string[]
  /** Incremented when new points arrive; the chart reads `series` on each tick. */
  tick: number
}

const TERMINAL: RunStatus[] = ['succeeded', 'failed', 'cancelled']
export const isTerminal = (s: string) => (TERMINAL as string[]).includes(s)

function pointsOf(msg: RunMessage): MetricPoint[] {
  if (Array.isArray(msg.points)) return msg.points as MetricPoint[]
  if (msg.point && typeof msg.point === 'object') return [msg.point as MetricPoint]
  if (msg.data && typeof msg.data === 'object' && 'step' in (msg.data as object)) return [msg.data as MetricPoint]
  return [msg as unknown as MetricPoint]
}

export function useRunStream(runId: string | number | null, initial?: Run | null) {
  const series = useRef(new MetricSeries())
  const [live, setLive] = useState<RunLive>({
    status: initial?.status ?? 'unknown', queuePosition: initial?.queue_position ?? null, lastSeq: 0,
    connected: false, result: initial?.result ?? null, error: initial?.error ?? '', logs: [], tick: 0,
  })

  useEffect(() => {
    if (runId == null) return
    series.current = new MetricSeries()
    let lastSeq = 0
    let ws: WebSocket | null = null
    let closed = false
    let retry = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    let frame = 0
    let pending: Partial<RunLive> = {}
    const logs: string[] = []
    let finished = false

    // Batch updates to one render per animation frame.
    const flush = () => {
      frame = 0
      const patch = pending
      pending = {}
      setLive((l) => ({ ...l, ...patch, lastSeq, logs: logs.slice(-200), tick: l.tick + 1 }))
    }
    const schedule = (patch: Partial<RunLive>) => {
      if (patch.status && isTerminal(patch.status)) finished = true
      pending = { ...pending, ...patch }
      if (!frame) frame = requestAnimationFrame(flush)
    }

    const onMessage = (ev: MessageEvent) => {
      let msg: RunMessage
      try { msg = JSON.parse(ev.data) } catch { return }
      const batch = Array.isArray(msg) ? (msg as RunMessage[]) : Array.isArray((msg as any).messages) ? (msg as any).messages : [msg]
      for (const m of batch as RunMessage[]) {
        if (typeof m.seq === 'number') {
          if (m.seq <= lastSeq) continue
          lastSeq = m.seq
        }
        switch (m.type) {
          case 'metrics':
            for (const p of pointsOf(m)) series.current.add(p)
            schedule({})
            break
          case 'status':
            schedule({
              status: (m.status ?? m.state) as RunStatus,
              ...(m.queue_position !== undefined ? { queuePosition: m.queue_position as number | null } : {}),
            })
            break
          case 'log':
            logs.push(String(m.message ?? ''))
            schedule({})
            break
          case 'done':
            schedule({ status: ((m.status ?? 'succeeded') as RunStatus), result: (m.result ?? m.summary ?? null) as Record<string, unknown> | null })
            break
          case 'error':
            schedule({ error: String(m.message ?? 'error'), ...(m.status ? { status: m.status as RunStatus } : {}) })
            break
        }
      }
    }

    const connect = () => {
      if (closed) return
      ws = new WebSocket(runSocketUrl(runId, lastSeq))
      ws.onopen = () => { retry = 0; schedule({ connected: true }) }
      ws.onmessage = onMessage
      ws.onclose = () => {
        schedule({ connected: false })
        if (closed) return
        // Reconnect unless the run is over; ask for what we missed with since=lastSeq.
        if (!finished) timer = setTimeout(connect, Math.min(5000, 300 * 2 ** retry++))
      }
    }

    // The websocket carries status changes; the queue position comes from the run itself,
    // polled while the run waits.
    let poll: ReturnType<typeof setTimeout> | undefined
    const refresh = () => getRun(runId)
      .then((r) => {
        schedule({ queuePosition: r.queue_position, ...(r.result ? { result: r.result } : {}), ...(r.error ? { error: r.error } : {}) })
        if (!closed && r.status === 'queued') poll = setTimeout(refresh, 2000)
      })
      .catch(() => undefined)
    void refresh()
    connect()
    return () => {
      closed = true
      clearTimeout(timer)
      clearTimeout(poll)
      if (frame) cancelAnimationFrame(frame)
      ws?.close()
    }
  }, [runId])

  return { live, series: series.current }
}
