// The editor's dialogs: save a version, share, import JSON, export.
import { useEffect, useState } from 'react'
import { Modal } from '../components/Modal'
import { diagramUrl, exportUrl, getGraph } from '../api'
import { sharePath } from '../lib/share'
import type { Spec, Visibility } from '../types'

export function SaveDialog({ initialName, onSave, onClose }: {
  initialName: string
  onSave: (name: string, message: string) => Promise<void>
  onClose: () => void
}) {
  const [name, setName] = useState(initialName)
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    try { await onSave(name.trim() || 'Untitled architecture', message.trim()); onClose() } catch (err) { setError((err as Error).message) } finally { setBusy(false) }
  }
  return (
    <Modal title="Save a version" onClose={onClose} testid="save-dialog">
      <form onSubmit={submit} className="stack">
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required data-testid="save-name" /></label>
        <label>Version message<input value={message} onChange={(e) => setMessage(e.target.value)} placeholder="What changed?" data-testid="save-message" /></label>
        {error && <p className="field-error" role="alert">{error}</p>}
        <div className="row-end"><button type="submit" className="primary" disabled={busy} data-testid="save-confirm">{busy ? 'Saving…' : 'Save'}</button></div>
      </form>
    </Modal>
  )
}

export function ShareDialog({ graphId, visibility, canEdit, onChange, onClose }: {
  graphId: string | number
  visibility: Visibility
  canEdit: boolean
  onChange: (v: Visibility) => Promise<void>
  onClose: () => void
}) {
  const [copied, setCopied] = useState(false)
  const [error, setError] = useState('')
  // The unlisted link's secret token: only the owner is told it (GET /api/graphs/{id}/ share_token).
  const [token, setToken] = useState<string | null>(null)
  useEffect(() => { getGraph(graphId).then((g) => setToken(g.share_token)).catch(() => undefined) }, [graphId])
  const link = `${location.origin}${sharePath({ id: graphId, visibility, share_token: token })}`
  const options: { value: Visibility; label: string; help: string }[] = [
    { value: 'private', label: 'Private', help: 'Only you can open it.' },
    { value: 'unlisted', label: 'Unlisted', help: 'Anyone with the link (a secret token, not its number) can open and fork it.' },
    { value: 'public', label: 'Public', help: 'Listed in the gallery; anyone can fork it.' },
  ]
  const copy = async () => {
    try { await navigator.clipboard.writeText(link); setCopied(true) } catch { setCopied(false) }
  }
  return (
    <Modal title="Share" onClose={onClose} testid="share-dialog">
      <fieldset className="stack" disabled={!canEdit}>
        <legend>Who can see it</legend>
        {options.map((o) => (
          <label key={o.value} className="radio">
            <input type="radio" name="visibility" value={o.value} checked={visibility === o.value}
              data-testid={`visibility-${o.value}`}
              onChange={() => onChange(o.value).catch((e) => setError(e.message))} />
            <span><b>{o.label}</b> <span className="muted small">{o.help}</span></span>
          </label>
        ))}
      </fieldset>
      {error && <p className="field-error" role="alert">{error}</p>}
      <div className="row">
        <input readOnly value={link} aria-label="Link" data-testid="share-link" onFocus={(e) => e.target.select()} />
        <button type="button" onClick={copy} data-testid="share-copy">{copied ? 'Copied' : 'Copy link'}</button>
      </div>
    </Modal>
  )
}

export function ImportDialog({ onImport, onClose }: { onImport: (spec: Spec) => void; onClose: () => void }) {
  const [text, setText] = useState('')
  const [error, setError] = useState('')
  const submit = () => {
    try {
      const spec = JSON.parse(text)
      if (!spec || !Array.isArray(spec.nodes) || !Array.isArray(spec.edges)) throw new Error('Not a spec: it needs "nodes" and "edges".')
      onImport(spec)
      onClose()
    } catch (e) {
      setError((e as Error).message)
    }
  }
  const onFile = async (f: File | undefined) => { if (f) setText(await f.text()) }
  return (
    <Modal title="Import a spec (JSON)" onClose={onClose} testid="import-dialog" wide>
      <div className="stack">
        <input type="file" accept="application/json,.json" aria-label="Spec file" onChange={(e) => onFile(e.target.files?.[0])} />
        <textarea rows={14} value={text} onChange={(e) => setText(e.target.value)} aria-label="Spec JSON"
          placeholder='{"version": 1, "model": {...}, "nodes": [...], "edges": [...]}' data-testid="import-text" />
        {error && <p className="field-error" role="alert">{error}</p>}
        <div className="row-end"><button type="button" className="primary" onClick={submit} data-testid="import-confirm">Import</button></div>
      </div>
    </Modal>
  )
}

function download(name: string, blob: Blob) {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 1000)
}

async function svgToPng(svgText: string): Promise<Blob> {
  const img = new Image()
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }))
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url })
  const scale = 2
  const canvas = document.createElement('canvas')
  canvas.width = img.naturalWidth * scale
  canvas.height = img.naturalHeight * scale
  const ctx = canvas.getContext('2d')!
  ctx.fillStyle = '#fff'
  ctx.fillRect(0, 0, canvas.width, canvas.height)
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height)
  URL.revokeObjectURL(url)
  return new Promise((ok) => canvas.toBlob((b) => ok(b!), 'image/png'))
}

export function ExportDialog({ graphId, name, spec, dirty, onClose }: {
  graphId: string | number | null
  name: string
  spec: Spec
  dirty: boolean
  onClose: () => void
}) {
  const [error, setError] = useState('')
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase() || 'architecture'
  const fromServer = async (url: string, file: string, type: string, png = false) => {
    setError('')
    try {
      const res = await fetch(url, { credentials: 'same-origin' })
      if (!res.ok) throw new Error(`export failed (${res.status})`)
      const text = await res.text()
      download(file, png ? await svgToPng(text) : new Blob([text], { type }))
    } catch (e) { setError((e as Error).message) }
  }
  return (
    <Modal title="Export" onClose={onClose} testid="export-dialog">
      <div className="stack">
        <button type="button" data-testid="export-json"
          onClick={() => download(`${slug}.json`, new Blob([JSON.stringify(spec, null, 2)], { type: 'application/json' }))}>
          Spec JSON (current editor state)
        </button>
        <button type="button" disabled={!graphId} data-testid="export-py"
          onClick={() => fromServer(exportUrl(graphId!, 'py'), `${slug}.py`, 'text/x-python')}>PyTorch code</button>
        <button type="button" disabled={!graphId} data-testid="export-svg"
          onClick={() => fromServer(diagramUrl(graphId!), `${slug}.svg`, 'image/svg+xml')}>Diagram (SVG)</button>
        <button type="button" disabled={!graphId} data-testid="export-png"
          onClick={() => fromServer(diagramUrl(graphId!), `${slug}.png`, 'image/png', true)}>Diagram (PNG)</button>
        {(!graphId || dirty) && <p className="small muted">Code and diagrams are made from the last saved version{graphId ? '; save to include recent edits' : '; save first'}.</p>}
        {error && <p className="field-error" role="alert">{error}</p>}
      </div>
    </Modal>
  )
}
