/** Connects the suggestion machine to the editor, the socket and the settings. */
import { useEffect, useMemo, useRef, useSyncExternalStore, type KeyboardEvent } from 'react'
import type { Editor } from 'slate'
import { ReactEditor } from 'slate-react'
import type { ModelInfo } from '../api/models'
import type { ComposeSocket } from '../compose/socket'
import { insertSuggestion } from '../editor/accept'
import { atParagraphEnd, textBeforeCursor } from '../editor/cursor'
import { requestParams, type Settings } from '../settings/settings'
import { SuggestionMachine, type RequestContext, type ServerMessage } from './machine'

interface Options {
  socket: ComposeSocket
  settings: Settings
  model: ModelInfo | null
  documentId: string | null
}

export function useSuggestions({ socket, settings, model, documentId }: Options) {
  const context = useRef<RequestContext | null>(null)
  context.current =
    model && model.available
      ? {
          model: model.route,
          params: requestParams(settings, model),
          document: documentId,
          maxPromptChars: model.limits?.max_prompt_chars,
        }
      : null

  const machine = useMemo(
    () => new SuggestionMachine({ send: (m) => socket.send(m), context: () => context.current }),
    [socket],
  )
  machine.debounceMs = settings.debounceMs

  useEffect(() => {
    const offMessage = socket.onMessage((m) => machine.receive(m as ServerMessage))
    const offStatus = socket.onStatus((s) => {
      if (s.state !== 'open') machine.connectionLost()
      else if (machine.getState().error?.code === 'offline') machine.restart()
    })
    return () => {
      offMessage()
      offStatus()
      machine.dismiss()
    }
  }, [socket, machine])

  // A new model or new settings answer the same text differently: ask again.
  const { maxTokens, temperature, n } = settings
  const first = useRef(true)
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    machine.restart()
  }, [machine, model?.route, maxTokens, temperature, n])

  const state = useSyncExternalStore(machine.subscribe, machine.getState)

  const accept = (editor: Editor, take: () => string | null) => {
    const author = machine.getState().model
    const text = take()
    if (text) insertSuggestion(editor, text, author)
    return text !== null
  }

  return {
    state,
    ghost: machine.ghost(),
    options: machine.options(),

    /** After every editor change: tell the machine what is now before the cursor. */
    onEditorChange(editor: Editor) {
      const prompt = textBeforeCursor(editor)
      if (prompt === null) {
        machine.dismiss()
        return
      }
      const auto = settings.autoSuggest && prompt.trim() !== '' && atParagraphEnd(editor)
      machine.edit(prompt, { auto })
    },

    /** Editor key handling; returns true when the key was a suggestion command. */
    onKeyDown(event: KeyboardEvent, editor: Editor): boolean {
      const hasGhost = machine.ghost() !== ''
      const mod = event.ctrlKey || event.metaKey
      let handled = false
      if (event.key === 'Tab' && !event.shiftKey && !mod && !event.altKey && hasGhost) {
        handled = accept(editor, () => machine.acceptAll())
      } else if (event.key === 'ArrowRight' && mod && !event.shiftKey && hasGhost) {
        handled = accept(editor, () => machine.acceptWord())
      } else if (event.key === 'Escape' && machine.getState().phase !== 'idle') {
        machine.dismiss()
        handled = true
      } else if (event.altKey && (event.code === 'BracketRight' || event.code === 'BracketLeft')) {
        machine.cycle(event.code === 'BracketRight' ? 1 : -1)
        handled = true
      } else if (event.ctrlKey && (event.code === 'Space' || event.key === ' ')) {
        const prompt = textBeforeCursor(editor)
        if (prompt !== null) machine.requestNow(prompt)
        handled = true
      }
      if (handled) event.preventDefault()
      return handled
    },

    /** A click on an alternative in the side panel. */
    pick(editor: Editor, index: number) {
      ReactEditor.focus(editor)
      accept(editor, () => machine.pick(index))
    },

    dismiss: () => machine.dismiss(),
  }
}

export type Suggestions = ReturnType<typeof useSuggestions>
