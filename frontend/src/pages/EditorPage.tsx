import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react'
import { createEditor, Editor, Transforms } from 'slate'
import { withHistory } from 'slate-history'
import { ReactEditor, withReact } from 'slate-react'
import { AccountMenu } from '../components/AccountMenu'
import { ConnectionIndicator } from '../components/ConnectionIndicator'
import { DraftList } from '../components/DraftList'
import { ExportMenu } from '../components/ExportMenu'
import { Link } from '../components/Link'
import { ModelPicker } from '../components/ModelPicker'
import { SaveIndicator } from '../components/SaveIndicator'
import { SettingsPanel } from '../components/SettingsPanel'
import { ShareButton } from '../components/ShareButton'
import { ShortcutHelp } from '../components/ShortcutHelp'
import { StatusLine } from '../components/StatusLine'
import { SuggestionPanel } from '../components/SuggestionPanel'
import { useComposeSocket, useConnectionStatus } from '../compose/useComposeSocket'
import { useDraft } from '../drafts/useDraft'
import { BodyEditor } from '../editor/BodyEditor'
import { withWriteup } from '../editor/plugins'
import type { Value } from '../editor/schema'
import { useGlobalShortcuts } from '../hooks/useGlobalShortcuts'
import { useHighlight } from '../hooks/useHighlight'
import { useModels } from '../hooks/useModels'
import { useSettings } from '../hooks/useSettings'
import { useSession } from '../session/useSession'
import { chooseModel } from '../settings/settings'
import { useSuggestions } from '../suggest/useSuggestions'

type Panel = 'drafts' | 'settings' | null

export function EditorPage({ routeId }: { routeId: string | null }) {
  const socket = useComposeSocket()
  const connection = useConnectionStatus(socket)
  const { models, error: modelsError } = useModels()
  const [settings, updateSettings] = useSettings()
  const model = chooseModel(models, settings.model)
  const draft = useDraft(routeId, socket)
  const suggestions = useSuggestions({ socket, settings, model, documentId: draft.id })
  const [panel, setPanel] = useState<Panel>(null)
  const [help, setHelp] = useState(false)
  const [highlight, setHighlight] = useHighlight()
  const { user } = useSession()
  const titleInput = useRef<HTMLInputElement>(null)

  // A fresh editor (and undo history) whenever the draft is (re)loaded from outside.
  const editor = useMemo(
    () => withWriteup(withHistory(withReact(createEditor()))),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [draft.revision],
  )

  useEffect(() => {
    if (draft.phase !== 'ready') return
    suggestions.dismiss()
    // Start with the cursor at the end, where writing usually goes on.
    try {
      Transforms.select(editor, Editor.end(editor, []))
      ReactEditor.focus(editor)
    } catch {
      // Not mounted yet on the first paint; the writer's click will place the cursor.
    }
    // Prefill the draft now, so the first pause in typing finds it cached.
    suggestions.opened(editor)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editor, draft.phase])

  useEffect(() => {
    document.title = `${draft.title.trim() || 'Untitled'} · writeup`
  }, [draft.title])

  useGlobalShortcuts({ onHelp: () => setHelp(true), onSave: () => void draft.flush() })

  const onChange = useCallback(
    (value: Value, contentChanged: boolean) => {
      if (contentChanged) draft.setValue(value)
      suggestions.onEditorChange(editor)
    },
    [draft, suggestions, editor],
  )

  const onKeyDown = (event: KeyboardEvent) => {
    suggestions.onKeyDown(event, editor)
  }

  const limits = model?.limits
  const closeHelp = useCallback(() => setHelp(false), [])

  return (
    <div className="app">
      <header className="topbar">
        <button
          type="button"
          data-testid="drafts-button"
          aria-expanded={panel === 'drafts'}
          onClick={() => setPanel(panel === 'drafts' ? null : 'drafts')}
        >
          Drafts
        </button>
        <span className="brand" aria-hidden="true">
          writeup
        </span>
        <Link className="nav-link" href="/gallery" data-testid="gallery-link">
          Gallery
        </Link>
        <span className="spacer" />
        <ModelPicker
          models={models}
          value={model?.route ?? null}
          error={modelsError}
          onChange={(route) => updateSettings({ model: route })}
        />
        <div className="settings">
          <button
            type="button"
            data-testid="settings-button"
            aria-expanded={panel === 'settings'}
            onClick={() => setPanel(panel === 'settings' ? null : 'settings')}
          >
            Settings
          </button>
          {panel === 'settings' && (
            <SettingsPanel
              settings={settings}
              maxTokens={limits?.max_new_tokens ?? 200}
              maxN={limits?.max_n ?? 4}
              onChange={updateSettings}
              onClose={() => setPanel(null)}
            />
          )}
        </div>
        <ShareButton
          documentId={draft.id}
          shareId={draft.shareId}
          visibility={draft.visibility}
          hidden={draft.hidden}
          signedIn={user !== null}
          beforePublish={draft.flush}
          onChange={draft.setShare}
        />
        <ExportMenu
          source={{ kind: 'draft', id: draft.id, beforeExport: draft.flush }}
          highlight={highlight}
          onHighlight={setHighlight}
        />
        <SaveIndicator save={draft.save} onSaveAsNew={() => void draft.saveAsNew()} />
        <ConnectionIndicator status={connection} onRetry={() => socket.retryNow()} />
        <button type="button" className="icon-button" data-testid="help-button" aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>
          ?
        </button>
        <AccountMenu beforeLeave={draft.flush} />
      </header>

      {panel === 'drafts' && (
        <DraftList
          currentId={draft.id}
          currentTitle={draft.title}
          onRenameCurrent={draft.setTitle}
          onClose={() => setPanel(null)}
        />
      )}

      <main className="workspace">
        <div className={highlight ? 'page show-accepted' : 'page'}>
          {draft.phase === 'ready' && (
            <>
              <input
                ref={titleInput}
                className="title"
                data-testid="title"
                aria-label="Title"
                placeholder="Title"
                value={draft.title}
                onChange={(e) => draft.setTitle(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault()
                    ReactEditor.focus(editor)
                  }
                }}
              />
              <BodyEditor
                key={draft.revision}
                editor={editor}
                initialValue={draft.initialValue}
                ghost={suggestions.ghost}
                onChange={onChange}
                onKeyDown={onKeyDown}
              />
            </>
          )}
          {draft.phase === 'loading' && <p className="hint">Opening…</p>}
          {draft.phase === 'missing' && (
            <p role="alert">
              This draft does not exist; it may have been deleted. <a href="/">Start a new one</a>.
            </p>
          )}
          {draft.phase === 'failed' && (
            <p role="alert">
              The server cannot be reached and this browser has no copy of this draft.{' '}
              <button type="button" className="link-button" onClick={draft.retry}>
                Try again
              </button>
            </p>
          )}
        </div>
        <SuggestionPanel
          state={suggestions.state}
          options={suggestions.options}
          onPick={(index) => suggestions.pick(editor, index)}
        />
      </main>

      <StatusLine
        notice={draft.notice}
        onDismissNotice={draft.dismissNotice}
        messages={[
          suggestions.state.error?.message,
          draft.save.message,
          draft.syncProblem,
          model && !model.available ? `${model.name} is unavailable: ${model.reason}` : null,
          models.length > 0 && !model?.available ? 'No model is available right now; suggestions are paused.' : null,
        ]}
      />
      <p className="visually-hidden" aria-live="polite">
        {suggestions.state.phase === 'ready' && suggestions.ghost ? `Suggestion: ${suggestions.ghost}. Tab to accept.` : ''}
      </p>

      {help && <ShortcutHelp onClose={closeHelp} />}
    </div>
  )
}
