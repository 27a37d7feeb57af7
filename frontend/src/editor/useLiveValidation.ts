// Live validation: after each change, wait a moment, then POST the spec to /api/graphs/validate/.
import { useEffect } from 'react'
import { validateSpec } from '../api'
import { useEditor } from '../store/editor'

export const VALIDATE_DELAY_MS = 350

export function useLiveValidation(): void {
  const rev = useEditor((s) => s.rev)
  const ready = useEditor((s) => s.blocks.size > 0 && s.nodes.length > 0)
  useEffect(() => {
    if (!ready) return
    const ctrl = new AbortController()
    const { setValidation, setValidating } = useEditor.getState()
    setValidating(true)
    const timer = setTimeout(() => {
      // The answer is for this revision: the cost bar greys it once the graph changes again.
      validateSpec(useEditor.getState().spec(), ctrl.signal)
        .then((v) => setValidation(v, rev))
        .catch((e) => { if (e?.name !== 'AbortError') setValidating(false, (e as Error).message) })
    }, VALIDATE_DELAY_MS)
    return () => { clearTimeout(timer); ctrl.abort() }
  }, [rev, ready])
}
