/**
 * One open draft: loading it (server copy and this browser's copy), autosave,
 * the local copy on every change, and updates saved by other tabs (watched
 * over the page's compose socket).
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react'
import { ApiError } from '../api/client'
import { documents, type DocumentRecord, type Visibility } from '../api/documents'
import { spansFromApi } from '../api/spans'
import { syncMessage } from '../compose/errors'
import type { ComposeSocket } from '../compose/socket'
import { TAB_ID } from '../compose/tab'
import type { Value } from '../editor/schema'
import { navigate } from '../routes'
import { Autosaver, type SaveState, type Snapshot } from './autosave'
import { emptyValue, fromBody, suggestedSpans, toBody } from './body'
import { planOpen } from './open'
import { remoteUpdate, type RemoteUpdate } from './remote'
import { moveLocal, readLocal, removeLocal, writeLocal, type LocalDraft } from './localCopy'

export type DraftPhase = 'loading' | 'ready' | 'missing' | 'failed'

interface Loaded {
  phase: DraftPhase
  title: string
  initialValue: Value
  /** Bumped whenever the editor must start over from `initialValue`. */
  revision: number
  published: boolean
  shareId: string | null
  visibility: Visibility
  hidden: boolean
}

const IDLE_SAVE: SaveState = { status: 'saved', id: null, version: null, message: null, gone: false }
const noSaver = { subscribe: () => () => {}, getState: () => IDLE_SAVE }

export function useDraft(routeId: string | null, socket: ComposeSocket) {
  const [loaded, setLoaded] = useState<Loaded>({
    phase: 'loading',
    title: '',
    initialValue: emptyValue(),
    revision: 0,
    published: false,
    shareId: null,
    visibility: 'private',
    hidden: false,
  })
  const [saver, setSaver] = useState<Autosaver | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [attempt, setAttempt] = useState(0)
  const title = useRef('')
  const value = useRef<Value>(emptyValue())
  const saverRef = useRef<Autosaver | null>(null)
  const unloading = useRef(false)

  const snapshot = (): Snapshot => ({
    title: title.current,
    body: toBody(value.current),
    spans: suggestedSpans(value.current),
  })

  const keepLocally = useCallback((dirty: boolean) => {
    const s = saverRef.current?.getState()
    const draft: LocalDraft = {
      id: s?.id ?? null,
      title: title.current,
      body: toBody(value.current),
      spans: suggestedSpans(value.current),
      baseVersion: s?.version ?? null,
      dirty,
      updatedAt: Date.now(),
    }
    writeLocal(draft)
  }, [])

  const keepOtherVersion = useCallback((theirs: DocumentRecord) => {
    const copyTitle = `${theirs.title || 'Untitled'} (other version)`
    documents
      .create({ title: copyTitle, body: theirs.body, spans: theirs.spans })
      .then(() =>
        setNotice(
          `This draft was also changed somewhere else. Your text here was kept; the other version is in your drafts as “${copyTitle}”.`,
        ),
      )
      .catch(() => setNotice('This draft was also changed somewhere else. Your text here was kept.'))
  }, [])

  useEffect(() => {
    // The draft we just created moved to its own URL: it is already open.
    if (routeId !== null && routeId === saverRef.current?.getState().id) return
    let cancelled = false
    setLoaded((l) => ({ ...l, phase: 'loading' }))
    setNotice(null)

    const open = async () => {
      const local = readLocal(routeId)
      let server: DocumentRecord | null = null
      let failure: ApiError | null = null
      if (routeId) {
        try {
          server = await documents.get(routeId)
        } catch (e) {
          failure = e instanceof ApiError ? e : new ApiError(0, 'network', String(e))
        }
      }
      if (cancelled) return

      const plan = planOpen(routeId, server, failure, local)
      if (plan.kind !== 'ready') {
        setLoaded((l) => ({ ...l, phase: plan.kind }))
        return
      }
      if (plan.keepOther) keepOtherVersion(plan.keepOther)
      if (plan.forget) removeLocal(plan.forget)
      const start = plan
      const base = plan.base
      title.current = start.title
      value.current = start.value
      const next = new Autosaver(
        base,
        {
          create: (s) => documents.create(s),
          update: (id, changes) =>
            documents.update(id, { ...changes, origin: TAB_ID }, { keepalive: unloading.current }),
        },
        {
          onConflict: keepOtherVersion,
          onSaved: (doc) => {
            if (routeId !== doc.id && location.pathname !== `/d/${doc.id}`) {
              moveLocal(doc.id)
              navigate(`/d/${doc.id}`, { replace: true })
            }
          },
        },
      )
      saverRef.current = next
      setSaver(next)
      setNotice(plan.message)
      setLoaded((l) => ({
        phase: 'ready',
        title: start.title,
        initialValue: start.value,
        revision: l.revision + 1,
        published: plan.published,
        shareId: plan.shareId,
        visibility: plan.visibility,
        hidden: plan.hidden,
      }))
      if (plan.restore) next.markUnsaved(snapshot())
    }
    void open()
    return () => {
      cancelled = true
    }
  }, [routeId, attempt, keepOtherVersion])

  // The local copy is marked clean whenever the server has everything.
  useEffect(() => {
    if (!saver) return
    const unsubscribe = saver.subscribe((s) => {
      if (s.status === 'saved') keepLocally(false)
    })
    return () => {
      unsubscribe()
      if (saverRef.current === saver) saverRef.current = null
      void saver.flush().finally(() => saver.dispose())
    }
  }, [saver, keepLocally])

  useEffect(() => {
    const onHide = () => {
      unloading.current = true
      void saverRef.current?.flush()
    }
    window.addEventListener('pagehide', onHide)
    return () => window.removeEventListener('pagehide', onHide)
  }, [])

  const save = useSyncExternalStore(saver?.subscribe ?? noSaver.subscribe, saver?.getState ?? noSaver.getState)

  const changed = useCallback(() => {
    keepLocally(true)
    saverRef.current?.change(snapshot())
  }, [keepLocally])

  const setTitle = useCallback(
    (next: string) => {
      title.current = next
      setLoaded((l) => ({ ...l, title: next }))
      changed()
    },
    [changed],
  )

  const setValue = useCallback(
    (next: Value) => {
      value.current = next
      changed()
    },
    [changed],
  )

  const applyRemote = useCallback(
    (update: RemoteUpdate) => {
      const s = saverRef.current
      const spans = spansFromApi(update.body, update.spans)
      if (update.origin === TAB_ID || !s || !s.adopt({ ...update, spans })) return
      title.current = update.title
      value.current = fromBody(update.body, spans)
      setLoaded((l) => ({ ...l, title: update.title, initialValue: value.current, revision: l.revision + 1 }))
      keepLocally(false)
    },
    [keepLocally],
  )

  // Saves of this draft made in other tabs arrive over the compose socket.
  const id = save.id ?? routeId
  const [syncProblem, setSyncProblem] = useState<string | null>(null)
  useEffect(() => {
    setSyncProblem(null)
    socket.watch(id)
  }, [socket, id])
  useEffect(
    () =>
      socket.onMessage((m) => {
        if (m.document !== id) return
        if (m.type === 'document_updated') {
          const update = remoteUpdate(m)
          if (update) applyRemote(update)
        } else if (m.type === 'watching') setSyncProblem(null)
        else if (m.type === 'error' && !m.id) setSyncProblem(syncMessage(String(m.code)))
      }),
    [socket, id, applyRemote],
  )

  return {
    ...loaded,
    id,
    syncProblem,
    save,
    notice,
    dismissNotice: () => setNotice(null),
    setTitle,
    setValue,
    applyRemote,
    flush: () => saverRef.current?.flush() ?? Promise.resolve(),
    saveAsNew: () => saverRef.current?.saveAsNew(snapshot()) ?? Promise.resolve(),
    setShare: (shareId: string | null, visibility: Visibility) =>
      setLoaded((l) => ({ ...l, published: shareId !== null, shareId, visibility })),
    retry: () => setAttempt((a) => a + 1),
  }
}

export type Draft = ReturnType<typeof useDraft>
