import { memo } from 'react'
import { useEditor } from '../store/editor'
import { Link } from '../router'

interface ToolbarProps {
  readOnly: boolean
  loggedIn: boolean
  dirty: boolean
  onSave: () => void
  onLayout: () => void
  onImport: () => void
  onExport: () => void
  onShare: () => void
  onFork: () => void
  onHelp: () => void
  onTogglePalette: () => void
}

export const Toolbar = memo(function Toolbar(p: ToolbarProps) {
  const meta = useEditor((s) => s.meta)
  const setMeta = useEditor((s) => s.setMeta)
  const canUndo = useEditor((s) => s.past.length > 0)
  const canRedo = useEditor((s) => s.future.length > 0)
  const undo = useEditor((s) => s.undo)
  const redo = useEditor((s) => s.redo)
  return (
    <div className="toolbar" role="toolbar" aria-label="Editor">
      {!p.readOnly && <button type="button" className="palette-toggle" onClick={p.onTogglePalette} aria-label="Toggle block palette">Blocks</button>}
      <input className="graph-name" value={meta.name} aria-label="Architecture name" readOnly={p.readOnly}
        onChange={(e) => { setMeta({ name: e.target.value }); useEditor.setState((s) => ({ rev: s.rev + 1 })) }} data-testid="graph-name" />
      {meta.id != null && (
        <Link to={`/graphs/${meta.id}`} className="muted small" data-testid="graph-page-link">
          {meta.version ? `v${meta.version}` : 'details'}{meta.owner ? ` · ${meta.owner}` : ''}
        </Link>
      )}
      {/* A graph never saved is "unsaved" even before its first change. */}
      <span className={`save-state small ${p.dirty || meta.id == null ? 'unsaved' : ''}`} data-testid="save-state">
        {p.readOnly ? 'read-only' : p.dirty ? 'unsaved (draft kept)' : meta.id == null ? 'unsaved' : 'saved'}
      </span>
      <span className="toolbar-spacer" />
      {!p.readOnly && <>
        <button type="button" onClick={undo} disabled={!canUndo} aria-label="Undo" title="Undo (Ctrl+Z)" data-testid="undo">↶</button>
        <button type="button" onClick={redo} disabled={!canRedo} aria-label="Redo" title="Redo (Ctrl+Shift+Z)" data-testid="redo">↷</button>
        <button type="button" onClick={p.onLayout} title="Auto-layout (L)" data-testid="auto-layout">Layout</button>
        <button type="button" onClick={p.onImport} data-testid="import">Import</button>
      </>}
      <button type="button" onClick={p.onExport} data-testid="export">Export</button>
      {meta.id != null && <button type="button" onClick={p.onShare} data-testid="share">Share</button>}
      {meta.id != null && p.loggedIn && <button type="button" onClick={p.onFork} data-testid="fork">Fork</button>}
      {!p.readOnly && (
        <button type="button" className="primary" onClick={p.onSave} disabled={!p.loggedIn}
          title={p.loggedIn ? 'Save a version (Ctrl+S)' : 'Log in to save'} data-testid="save">Save</button>
      )}
      <button type="button" className="icon-button" onClick={p.onHelp} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" data-testid="help">?</button>
    </div>
  )
})
