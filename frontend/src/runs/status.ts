// What a run's status means, in words: the trainer's summary says why it stopped (`stopped`:
// steps | time | tokens | target | cancelled | diverged) and how many steps it made, so a run
// ended by its budget is not shown as a green "succeeded" (docs/ARCHITECTURE.md, Trainer).
import type { Params } from '../types'

export type StopReason = 'steps' | 'time' | 'tokens' | 'target' | 'cancelled' | 'diverged'

/** `tone` picks the badge colour: `budget` is neutral, distinct from a run that completed. */
export interface RunOutcome {
  badge: string
  tone: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'budget' | 'target' | 'unknown'
  /** The sentence under the badge, e.g. "stopped by time budget at step 39/200". */
  detail: string | null
  stopped: StopReason | null
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** Steps the run was configured for (hyper.steps), or null. */
export function configuredSteps(hparams: Params | null | undefined): number | null {
  const n = num(hparams?.steps)
  return n && n > 0 ? n : null
}

/** "39/200" or "39" when the configured steps are unknown. */
const stepOf = (steps: number | null, total: number | null) =>
  steps == null ? '' : total ? ` at step ${steps}/${total}` : ` at step ${steps}`

export function runOutcome(status: string, result: Record<string, unknown> | null | undefined, totalSteps: number | null): RunOutcome {
  const stopped = (typeof result?.stopped === 'string' ? result.stopped : null) as StopReason | null
  const steps = num(result?.steps)
  const at = stepOf(steps, totalSteps)
  switch (status) {
    case 'queued':
    case 'running':
      return { badge: status, tone: status, detail: null, stopped: null }
    case 'succeeded':
      if (stopped === 'time') return { badge: 'time budget', tone: 'budget', detail: `stopped by time budget${at}`, stopped }
      if (stopped === 'tokens') return { badge: 'token budget', tone: 'budget', detail: `stopped by token budget${at}`, stopped }
      if (stopped === 'target') return { badge: 'reached target', tone: 'target', detail: `reached its target accuracy early${at}`, stopped }
      return {
        badge: 'succeeded', tone: 'succeeded', stopped,
        detail: steps != null ? `completed ${totalSteps ? `${steps}/${totalSteps}` : steps} steps` : null,
      }
    case 'cancelled':
      return { badge: 'cancelled', tone: 'cancelled', detail: steps != null ? `cancelled${at}` : null, stopped }
    case 'failed':
      return { badge: 'failed', tone: 'failed', detail: stopped === 'diverged' ? `loss diverged${at}` : null, stopped }
    default:
      return { badge: status || 'unknown', tone: 'unknown', detail: null, stopped }
  }
}

export interface EtaInput {
  step: number
  totalSteps: number | null
  /** Seconds since the run started (the trainer's elapsed_s). */
  elapsed: number | null
  maxSeconds?: number | null
  tokens?: number | null
  maxTokens?: number | null
  tokensPerS?: number | null
}

export interface Eta {
  seconds: number
  /** Which limit ends the run first. */
  by: 'steps' | 'time' | 'tokens'
}

/** Remaining time: the earliest of the step-based estimate and the time and token budgets. */
export function estimateEta({ step, totalSteps, elapsed, maxSeconds, tokens, maxTokens, tokensPerS }: EtaInput): Eta | null {
  const options: Eta[] = []
  if (elapsed != null && totalSteps && step > 0) options.push({ seconds: (elapsed / step) * Math.max(0, totalSteps - step), by: 'steps' })
  if (elapsed != null && maxSeconds != null && maxSeconds > 0) options.push({ seconds: Math.max(0, maxSeconds - elapsed), by: 'time' })
  if (tokens != null && maxTokens != null && maxTokens > 0 && tokensPerS && tokensPerS > 0) {
    options.push({ seconds: Math.max(0, maxTokens - tokens) / tokensPerS, by: 'tokens' })
  }
  if (!options.length) return null
  return options.reduce((best, o) => (o.seconds < best.seconds ? o : best))
}
