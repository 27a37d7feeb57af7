// The editor page: palette | canvas | inspector & run panel, toolbar on top, cost bar below.
import { ReactFlowProvider, useReactFlow } from '@xyflow/react'
import '@xyflow/react/dist/style.css'
import { useCallback, useEffect, useRef, useState } from 'react'
import { canEditGraph, createGraph, fetchBlocks, forkGraph, getGraph, saveGraph } from '../api'
import { clearDraft, loadDraft, type Draft } from '../lib/drafts'
import { autoLayout } from '../lib/layout'
import { newSpec } from '../lib/specflow'
import { navigate, useLocation } from '../router'
import { RunPanel } from '../runs/RunPanel'
import { isDirty, useEditor } from '../store/editor'
import { useSession } from '../store/session'
import type { Spec, Visibility } from '../types'
import { CostBar } from './CostBar'
import { Canvas } from './Canvas'
import { ExportDialog, ImportDialog, SaveDialog, ShareDialog } from './dialogs'
import { Inspector } from './Inspector'
import { loadModelSchema, modelDefaults } from './modelSchema'
import { Palette } from './Palette'
import { ShortcutsHelp } from './ShortcutsHelp'
import { Toolbar } from './Toolbar'
import { useAutosave } from './useAutosave'
import { useLiveValidation } from './useLiveValidation'
import { useShortcuts } from './useShortcuts'

const FIT = { padding: 0.15, maxZoom: 1, duration: 150 }

type Dialog = 'save' | 'share' | 'import' | 'export' | 'help' | null

export function EditorPage({ graphId }: { graphId?: string }) {
  return (
    <ReactFlowProvider>
      <Editor graphId={graphId} />
    </ReactFlowProvider>
  )
}

function specsEqual(a: Spec, b: Spec): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function Editor({ graphId }: { graphId?: string }) {
  const { query } = useLocation()
  const [status, setStatus] = useState<'loading' | 'ready' | 'error'>('loading')
  const [loadError, setLoadError] = useState('')
  const [restored, setRestored] = useState<Draft | null>(null)
  const [dialog, setDialog] = useState<Dialog>(null)
  const [tab, setTab] = useState<'inspect' | 'run'>('inspect')
  const [paletteOpen, setPaletteOpen] = useState(false)
  const user = useSession((s) => s.user)
  const meta = useEditor((s) => s.meta)
  const dirty = useEditor(isDirty)
  const { fitView, screenToFlowPosition } = useReactFlow()
  const serverSpec = useRef<Spec | null>(null)
  const loaded = useRef(false)

  useLiveValidation()
  useAutosave()

  const layout = useCallback(async () => {
    const s = useEditor.getState()
    const pos = await autoLayout(s.nodes, s.edges)
    useEditor.getState().setPositions(pos)
    requestAnimationFrame(() => fitView(FIT))
  }, [fitView])

  // Load the registry, then the graph (or a template, or a draft, or a new graph).
  // Not again when the URL changes because this graph was just saved for the first time.
  useEffect(() => {
    const current = useEditor.getState().meta.id
    if (graphId && loaded.current && current != null && String(current) === graphId) return
    let cancelled = false
    setStatus('loading')
    setRestored(null)
    ;(async () => {
      try {
        const store = useEditor.getState()
        if (!store.blocks.size) {
          const [blocks, modelFields] = await Promise.all([fetchBlocks(), loadModelSchema()])
          if (!blocks.length) throw new Error('the server sent an empty block registry (GET /api/blocks/); reload to try again')
          store.setBlocks(blocks)
          store.setModelDefaults(modelDefaults(modelFields))
        }
        const session = useSession.getState()
        const me = session.loaded ? session.user : await session.refresh()
        const template = query.get('template')
        let draft: Draft | null = null
        let needsLayout = false
        if (graphId) {
          const g = await getGraph(graphId)
          g.can_edit = canEditGraph(g, me)
          const spec = g.spec
          serverSpec.current = g.spec
          draft = loadDraft(g.id)
          needsLayout = useEditor.getState().load(spec, {
            id: g.id, name: g.name, description: g.description, visibility: g.visibility,
            version: g.version, canEdit: g.can_edit, owner: g.owner,
          })
          if (draft && g.can_edit && draft.baseVersion === g.version && !specsEqual(draft.spec, g.spec)) {
            needsLayout = useEditor.getState().load(draft.spec, { ...useEditor.getState().meta, name: draft.name }, { dirty: true })
            setRestored(draft)
          } else if (draft) clearDraft(g.id)
        } else if (template) {
          const g = await getGraph(template)
          needsLayout = useEditor.getState().load(g.spec, { name: `${g.name} (copy)`, description: g.description }, { dirty: true })
        } else {
          draft = loadDraft(null)
          if (draft) {
            needsLayout = useEditor.getState().load(draft.spec, { name: draft.name }, { dirty: true })
            setRestored(draft)
          } else {
            useEditor.getState().load(newSpec(useEditor.getState().modelDefaults), {})
          }
        }
        if (cancelled) return
        loaded.current = true
        // Ready once laid out: before elk has placed them, a group's children are not yet inside it.
        // Laying out what was loaded is not an edit: neither unsaved nor undoable.
        if (needsLayout) {
          const wasDirty = isDirty(useEditor.getState())
          await layout()
          if (!wasDirty) useEditor.getState().markSaved()
          useEditor.setState({ past: [] })
        }
        if (cancelled) return
        setStatus('ready')
        requestAnimationFrame(() => fitView(FIT))
      } catch (e) {
        if (!cancelled) { setStatus('error'); setLoadError((e as Error).message) }
      }
    })()
    return () => { cancelled = true }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [graphId])

  const save = useCallback(async (name: string, message: string) => {
    const s = useEditor.getState()
    const spec = s.spec()
    const rev = s.rev
    if (s.meta.id == null) {
      const g = await createGraph({ name, spec, message, visibility: s.meta.visibility })
      clearDraft(null)
      useEditor.getState().setMeta({ id: g.id, name: g.name, version: g.version, canEdit: true, owner: g.owner })
      useEditor.setState({ savedRev: rev })
      navigate(`/graphs/${g.id}/edit`, true)
      return
    }
    const g = await saveGraph(s.meta.id, { spec, message, name })
    clearDraft(s.meta.id)
    useEditor.getState().setMeta({ name: g.name, version: g.version })
    useEditor.setState({ savedRev: rev })
    setRestored(null)
  }, [])

  const ensureSaved = useCallback(async () => {
    const s = useEditor.getState()
    if (s.meta.id != null && !isDirty(s)) return { id: s.meta.id, version: s.meta.version }
    if (!s.meta.canEdit) return s.meta.id != null ? { id: s.meta.id, version: s.meta.version } : null
    await save(s.meta.name, 'Saved before a run')
    const after = useEditor.getState().meta
    return after.id != null ? { id: after.id, version: after.version } : null
  }, [save])

  const fork = useCallback(async () => {
    const id = useEditor.getState().meta.id
    if (id == null) return
    const g = await forkGraph(id)
    navigate(`/graphs/${g.id}/edit`)
  }, [])

  const setVisibility = useCallback(async (v: Visibility) => {
    const id = useEditor.getState().meta.id
    if (id == null) return
    const g = await saveGraph(id, { visibility: v })
    useEditor.getState().setMeta({ visibility: g.visibility })
  }, [])

  const addAtCentre = useCallback((type: string) => {
    const el = document.querySelector('.canvas')?.getBoundingClientRect()
    const at = el ? screenToFlowPosition({ x: el.left + el.width / 2, y: el.top + el.height / 2 }) : { x: 0, y: 0 }
    useEditor.getState().addBlock(type, at)
  }, [screenToFlowPosition])

  const readOnly = !meta.canEdit
  const st = useEditor.getState
  useShortcuts({
    undo: () => !readOnly && st().undo(),
    redo: () => !readOnly && st().redo(),
    copy: () => st().copy(),
    paste: () => !readOnly && st().paste(),
    duplicate: () => { if (!readOnly) { st().copy(); st().paste() } },
    delete: () => !readOnly && st().deleteSelected(),
    selectAll: () => st().selectAll(),
    save: () => !readOnly && user && setDialog('save'),
    layout: () => !readOnly && layout(),
    fit: () => fitView(FIT),
    help: () => setDialog('help'),
    palette: () => { setPaletteOpen(true); setTimeout(() => document.querySelector<HTMLInputElement>('.palette-search')?.focus(), 0) },
  })

  if (status === 'error') return <div className="page"><p className="field-error" role="alert">Could not open the editor: {loadError}</p></div>
  return (
    <div className={`editor${paletteOpen ? ' palette-open' : ''}`} data-testid="editor" data-ready={status === 'ready'}>
      <Toolbar
        readOnly={readOnly}
        loggedIn={Boolean(user)}
        dirty={dirty}
        onSave={() => setDialog('save')}
        onLayout={layout}
        onImport={() => setDialog('import')}
        onExport={() => setDialog('export')}
        onShare={() => setDialog('share')}
        onFork={fork}
        onHelp={() => setDialog('help')}
        onTogglePalette={() => setPaletteOpen((o) => !o)}
      />
      {restored && (
        <div className="banner" role="status" data-testid="draft-banner">
          Restored unsaved changes from {new Date(restored.savedAt).toLocaleTimeString()}.
          <button type="button" className="link" onClick={() => {
            clearDraft(meta.id)
            setRestored(null)
            useEditor.getState().load(serverSpec.current ?? newSpec(useEditor.getState().modelDefaults), useEditor.getState().meta)
          }}>Discard them</button>
        </div>
      )}
      <div className="editor-body">
        {!readOnly && <Palette onAdd={addAtCentre} />}
        <Canvas readOnly={readOnly} />
        <div className="side-panel">
          <div className="tabs" role="tablist" aria-label="Side panel">
            <button role="tab" type="button" aria-selected={tab === 'inspect'} onClick={() => setTab('inspect')} data-testid="tab-inspect">Inspector</button>
            <button role="tab" type="button" aria-selected={tab === 'run'} onClick={() => setTab('run')} data-testid="tab-run">Run</button>
          </div>
          <div className="side-panel-body" role="tabpanel">
            {tab === 'inspect' && <Inspector />}
            {/* Kept mounted on the Inspector tab, so the run it follows is still there on return. */}
            <div hidden={tab !== 'run'}><RunPanel ensureSaved={ensureSaved} canLaunch={Boolean(user)} /></div>
          </div>
        </div>
      </div>
      <CostBar />
      {dialog === 'save' && <SaveDialog initialName={meta.name} onSave={save} onClose={() => setDialog(null)} />}
      {dialog === 'share' && meta.id != null && (
        <ShareDialog graphId={meta.id} visibility={meta.visibility} canEdit={meta.canEdit} onChange={setVisibility} onClose={() => setDialog(null)} />
      )}
      {dialog === 'import' && (
        <ImportDialog onClose={() => setDialog(null)} onImport={(spec) => {
          const s = useEditor.getState()
          s.checkpoint()
          const past = useEditor.getState().past
          const needs = s.load(spec, s.meta, { dirty: true })
          useEditor.setState({ past })
          if (needs) void layout()
          else requestAnimationFrame(() => fitView(FIT))
        }} />
      )}
      {dialog === 'export' && (
        <ExportDialog graphId={meta.id} name={meta.name} spec={useEditor.getState().spec()} dirty={dirty} onClose={() => setDialog(null)} />
      )}
      {dialog === 'help' && <ShortcutsHelp onClose={() => setDialog(null)} />}
    </div>
  )
}
