// The link that shares a graph: a public graph by its id; an unlisted one by its secret token
// (/graphs/u/<token>), since its numeric URL is 404 to everyone but the owner; a private one by
// its id, which only the owner can open.
import type { Visibility } from '../types'

export function sharePath(graph: { id: string | number; visibility: Visibility; share_token?: string | null }): string {
  if (graph.visibility === 'unlisted' && graph.share_token) return `/graphs/u/${encodeURIComponent(graph.share_token)}`
  return `/graphs/${graph.id}`
}

/** "forked from alice's Hybrid (v3)": whose graph and which version, for a fork's header. */
export function forkOrigin(parent: { name: string; owner?: string; version?: number } | null): string {
  if (!parent) return ''
  const whose = parent.owner ? `${parent.owner}'s ` : ''
  return `${whose}${parent.name}${parent.version != null ? ` (v${parent.version})` : ''}`
}
