// Autosave: whenever the graph has unsaved changes, write a draft to localStorage (debounced).
import { useEffect } from 'react'
import { clearDraft, saveDraft } from '../lib/drafts'
import { isDirty, useEditor } from '../store/editor'

export function useAutosave(): void {
  const rev = useEditor((s) => s.rev)
  const dirty = useEditor(isDirty)
  useEffect(() => {
    if (!dirty) return
    const timer = setTimeout(() => {
      const s = useEditor.getState()
      saveDraft(s.meta.id, { spec: s.spec(), name: s.meta.name, baseVersion: s.meta.version })
    }, 300)
    return () => clearTimeout(timer)
  }, [rev, dirty])

  useEffect(() => {
    const warn = () => {
      const s = useEditor.getState()
      if (isDirty(s)) saveDraft(s.meta.id, { spec: s.spec(), name: s.meta.name, baseVersion: s.meta.version })
    }
    window.addEventListener('beforeunload', warn)
    return () => window.removeEventListener('beforeunload', warn)
  }, [])
}

export { clearDraft }
