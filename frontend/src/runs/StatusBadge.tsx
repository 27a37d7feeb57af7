// A run's status badge that says why it stopped (time or token budget, target reached, diverged).
import type { Params } from '../types'
import { configuredSteps, runOutcome } from './status'

interface Props {
  status: string
  result: Record<string, unknown> | null | undefined
  hparams: Params | null | undefined
  testid?: string
  /** Also print the sentence ("stopped by time budget at step 39/200") after the badge. */
  detail?: boolean
}

export function RunStatusBadge({ status, result, hparams, testid, detail = false }: Props) {
  const o = runOutcome(status, result, configuredSteps(hparams))
  return (
    <>
      <span className={`badge status-${o.tone}`} title={o.detail ?? undefined} data-testid={testid} data-stopped={o.stopped ?? ''}>{o.badge}</span>
      {detail && o.detail && <span className="run-outcome" data-testid={testid ? `${testid}-detail` : undefined}>{o.detail}</span>}
    </>
  )
}
