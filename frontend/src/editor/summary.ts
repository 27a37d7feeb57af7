import type { BlockType, Params } from '../types'

/** A short "k=v" line of the params that differ from their defaults (or the first two). */
export function summariseParams(block: BlockType | undefined, params: Params): string {
  if (!block) return ''
  const changed = block.params.filter((p) => params[p.name] !== undefined && params[p.name] !== p.default)
  const shown = (changed.length ? changed : block.params).slice(0, 3)
  return shown.map((p) => `${p.name}=${String(params[p.name] ?? p.default)}`).join(' ')
}
