/** Connects the suggestion machine to the editor, the socket and the settings. */
import { useEffect, useMemo, useRef, useSyncExternalStore, type KeyboardEvent } from 'react'
import type { Editor } from 'slate'
import { ReactEditor } from 'slate-react'
import type { ModelInfo } from '../api/models'
import type { ComposeSocket } from '../compose/socket'
import { insertSuggestion } from '../editor/accept'
import { atParagraphEnd, textBeforeCursor, wholeText } from '../editor/cursor'
import { requestParams, type Settings } from '../settings/settings'
import { SuggestionMachine, type RequestContext, type ServerMessage } from './machine'
import { Prewarmer } from './prewarm'

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

  const { machine, prewarmer } = useMemo(() => {
    const machine: SuggestionMachine = new SuggestionMachine({
      send: (m) => {
        const sent = socket.send(m)
        if (sent && (m as { type?: string }).type === 'generate') prewarmer.generated(m)
        return sent
      },
      context: () => context.current,
    })
    const prewarmer: Prewarmer = new Prewarmer({
      send: (m) => socket.send(m),
      context: () => context.current,
      // Not during the debounce: typing keeps the machine waiting, and that is when prewarm helps.
      busy: () => machine.getState().phase === 'streaming',
    })
    return { machine, prewarmer }
  }, [socket])
  machine.debounceMs = settings.debounceMs

  useEffect(() => {
    const offMessage = socket.onMessage((m) => machine.receive(m as ServerMessage))
    const offStatus = socket.onStatus((s) => {
      if (s.state !== 'open') machine.connectionLost()
      else {
        if (machine.getState().error?.code === 'offline') machine.restart()
        prewarmer.again()
      }
    })
    prewarmer.start()
    return () => {
      offMessage()
      offStatus()
      prewarmer.stop()
      machine.dismiss()
    }
  }, [socket, machine, prewarmer])

  // Another model or draft has nothing of this text cached yet.
  const route = model?.available ? model.route : null
  useEffect(() => {
    if (route) prewarmer.again()
  }, [prewarmer, route, documentId])

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
      prewarmer.note(prompt)
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

    /** A draft was opened: prefill it (up to the cursor, or all of it before the first click). */
    opened(editor: Editor) {
      prewarmer.note(textBeforeCursor(editor) ?? wholeText(editor))
    },
  }
}

export type Suggestions = ReturnType<typeof useSuggestions>
