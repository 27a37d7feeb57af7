// Keyboard shortcuts of the editor: one table drives both the handler and the help overlay.
export interface Shortcut {
  keys: string
  action: 'undo' | 'redo' | 'copy' | 'paste' | 'duplicate' | 'delete' | 'selectAll' | 'save' | 'layout' | 'fit' | 'help' | 'palette'
  label: string
}

export const SHORTCUTS: Shortcut[] = [
  { keys: 'Mod+Z', action: 'undo', label: 'Undo' },
  { keys: 'Mod+Shift+Z', action: 'redo', label: 'Redo' },
  { keys: 'Mod+Y', action: 'redo', label: 'Redo' },
  { keys: 'Mod+C', action: 'copy', label: 'Copy selection' },
  { keys: 'Mod+V', action: 'paste', label: 'Paste' },
  { keys: 'Mod+D', action: 'duplicate', label: 'Duplicate selection' },
  { keys: 'Delete', action: 'delete', label: 'Delete selection (also Backspace)' },
  { keys: 'Mod+A', action: 'selectAll', label: 'Select all' },
  { keys: 'Mod+S', action: 'save', label: 'Save a version' },
  { keys: 'L', action: 'layout', label: 'Auto-layout' },
  { keys: 'F', action: 'fit', label: 'Fit view' },
  { keys: '/', action: 'palette', label: 'Search the palette' },
  { keys: '?', action: 'help', label: 'Show this help' },
]

export function matchShortcut(e: KeyboardEvent): Shortcut['action'] | null {
  const mod = e.ctrlKey || e.metaKey
  const key = e.key.length === 1 ? e.key.toUpperCase() : e.key
  for (const s of SHORTCUTS) {
    const parts = s.keys.split('+')
    const want = parts[parts.length - 1]
    const needMod = parts.includes('Mod')
    const needShift = parts.includes('Shift')
    if (needMod !== mod) continue
    if (needMod && needShift !== e.shiftKey) continue
    if (want === key || (want === 'Delete' && key === 'Backspace')) return s.action
  }
  return null
}

export const displayKeys = (keys: string) =>
  keys.replace('Mod', /Mac/.test(navigator.platform) ? '⌘' : 'Ctrl')
