// Drafts in localStorage, so a reload (or a crash) loses no edit.
import type { Spec } from '../types'

export interface Draft {
  spec: Spec
  name: string
  baseVersion: number | null
  savedAt: number
}

const key = (graphId: string | number | null) => `composer:draft:${graphId ?? 'new'}`

export function loadDraft(graphId: string | number | null): Draft | null {
  try {
    const raw = localStorage.getItem(key(graphId))
    return raw ? (JSON.parse(raw) as Draft) : null
  } catch {
    return null
  }
}

export function saveDraft(graphId: string | number | null, draft: Omit<Draft, 'savedAt'>): void {
  try {
    localStorage.setItem(key(graphId), JSON.stringify({ ...draft, savedAt: Date.now() }))
  } catch {
    /* storage full or disabled: nothing to do */
  }
}

export function clearDraft(graphId: string | number | null): void {
  try { localStorage.removeItem(key(graphId)) } catch { /* ignore */ }
}
