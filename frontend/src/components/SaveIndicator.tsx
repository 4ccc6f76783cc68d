import type { SaveState } from '../drafts/autosave'

const LABELS: Record<SaveState['status'], string> = {
  saved: 'Saved',
  unsaved: 'Unsaved changes',
  saving: 'Saving…',
  offline: 'Offline: kept on this device',
  error: 'Not saved',
}

export function SaveIndicator({ save, onSaveAsNew }: { save: SaveState; onSaveAsNew: () => void }) {
  return (
    <span className={`save-state save-${save.status}`} data-testid="save-state" data-state={save.status} title={save.message ?? undefined}>
      <span className="dot" aria-hidden="true" />
      {save.id === null && save.status === 'saved' ? 'New draft' : LABELS[save.status]}
      {save.gone && (
        <button type="button" className="link-button" onClick={onSaveAsNew}>
          Save as new draft
        </button>
      )}
    </span>
  )
}
