// A tiny history router: the app has a handful of pages, so no dependency is needed.
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react'

const listeners = new Set<() => void>()

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to)
  else history.pushState(null, '', to)
  listeners.forEach((l) => l())
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()))

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0)
  useEffect(() => {
    const l = () => setTick((t) => t + 1)
    listeners.add(l)
    return () => { listeners.delete(l) }
  }, [])
  return { path: location.pathname, query: new URLSearchParams(location.search) }
}

export interface Route { name: string; params: Record<string, string> }

const ROUTES: [string, RegExp][] = [
  ['gallery', /^\/$/],
  ['gallery', /^\/gallery\/?$/],
  ['login', /^\/login\/?$/],
  ['signup', /^\/signup\/?$/],
  ['editor', /^\/editor\/?$/],
  ['editor', /^\/graphs\/(?<id>[^/]+)\/edit\/?$/],
  // An unlisted graph's link: its secret token, never its id.
  ['shared', /^\/graphs\/u\/(?<token>[A-Za-z0-9_-]+)\/?$/],
  ['graph', /^\/graphs\/(?<id>[^/]+)\/?$/],
  ['run', /^\/runs\/(?<id>[^/]+)\/?$/],
  ['compare', /^\/compare\/?$/],
  ['card', /^\/cards\/(?<id>[^/]+)\/?$/],
  ['leaderboard', /^\/leaderboard\/?$/],
]

export function matchRoute(path: string): Route {
  for (const [name, re] of ROUTES) {
    const m = re.exec(path)
    if (m) return { name, params: { ...(m.groups ?? {}) } }
  }
  return { name: 'notfound', params: {} }
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }

export function Link({ to, onClick, ...rest }: LinkProps) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a href={to} onClick={handle} {...rest} />
}
