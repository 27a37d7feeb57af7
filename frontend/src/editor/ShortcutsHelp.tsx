import { Modal } from '../components/Modal'
import { SHORTCUTS, displayKeys } from './shortcuts'

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} testid="shortcuts-help">
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}><td><kbd>{displayKeys(s.keys)}</kbd></td><td>{s.label}</td></tr>
          ))}
          <tr><td><kbd>Shift</kbd> + drag</td><td>Select several nodes with a box</td></tr>
          <tr><td>Drag onto a group</td><td>Move a node into a repeat/chunk group</td></tr>
        </tbody>
      </table>
    </Modal>
  )
}
