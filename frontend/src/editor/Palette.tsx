// The palette: every registry entry, grouped by family, searchable; drag onto the canvas
// (or press Enter on an item to add it at the centre of the view).
import { memo, useMemo, useState, type DragEvent } from 'react'
import { useEditor } from '../store/editor'
import type { BlockType } from '../types'
import { isEndpoint } from '../lib/groups'

export const BLOCK_MIME = 'application/x-composer-block'

interface PaletteProps {
  onAdd: (type: string) => void
}

function matches(b: BlockType, q: string): boolean {
  if (!q) return true
  const hay = `${b.name} ${b.title} ${b.family} ${b.description} ${b.paper} ${b.tags.join(' ')} ${b.complexity}`.toLowerCase()
  return q.toLowerCase().split(/\s+/).every((w) => hay.includes(w))
}

export const Palette = memo(function Palette({ onAdd }: PaletteProps) {
  const blocks = useEditor((s) => s.blocks)
  const [q, setQ] = useState('')
  const families = useMemo(() => {
    const out = new Map<string, BlockType[]>()
    for (const b of blocks.values()) {
      if (isEndpoint(b.name) || !matches(b, q)) continue
      out.set(b.family, [...(out.get(b.family) ?? []), b])
    }
    return [...out.entries()]
  }, [blocks, q])

  return (
    <aside className="palette" aria-label="Block palette" data-testid="palette">
      <input type="search" className="palette-search" placeholder="Search blocks…" aria-label="Search blocks"
        value={q} onChange={(e) => setQ(e.target.value)} data-testid="palette-search" />
      <div className="palette-list">
        {families.map(([family, list]) => (
          <details key={family} open className="palette-family" data-testid={`palette-family-${family}`}>
            <summary>{family} <span className="muted">({list.length})</span></summary>
            <ul>
              {list.map((b) => <PaletteItem key={b.name} block={b} onAdd={onAdd} />)}
            </ul>
          </details>
        ))}
        {!families.length && <p className="muted small">No block matches “{q}”.</p>}
      </div>
    </aside>
  )
})

function PaletteItem({ block, onAdd }: { block: BlockType; onAdd: (t: string) => void }) {
  const onDragStart = (e: DragEvent) => {
    e.dataTransfer.setData(BLOCK_MIME, block.name)
    e.dataTransfer.setData('text/plain', block.name)
    e.dataTransfer.effectAllowed = 'move'
  }
  return (
    <li
      className={`palette-item family-${block.family}`}
      draggable
      onDragStart={onDragStart}
      onDoubleClick={() => onAdd(block.name)}
      onKeyDown={(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onAdd(block.name) } }}
      tabIndex={0}
      role="button"
      aria-label={`Add ${block.title}: ${block.description}`}
      title={block.paper ? `${block.description}\n${block.paper}` : block.description}
      data-testid={`palette-${block.name}`}
    >
      <div className="palette-item-head">
        <span className="palette-item-title">{block.title}</span>
        <span className="complexity" title="Complexity in sequence length">{block.complexity}</span>
      </div>
      <div className="palette-item-desc">{block.description}</div>
    </li>
  )
}
