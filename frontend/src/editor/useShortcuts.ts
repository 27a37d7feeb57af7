import { useEffect, useRef } from 'react'
import { matchShortcut, type Shortcut } from './shortcuts'

const isTyping = (el: EventTarget | null) =>
  el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))

/** Runs the handler of a matching shortcut unless the user is typing in a field. */
export function useShortcuts(handlers: Partial<Record<Shortcut['action'], () => void>>): void {
  const ref = useRef(handlers)
  ref.current = handlers
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (document.querySelector('.modal')) return
      const action = matchShortcut(e)
      // In a field, keys belong to the field, except Save.
      if (isTyping(e.target) && action !== 'save') return
      const fn = action && ref.current[action]
      if (fn) { e.preventDefault(); fn() }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
