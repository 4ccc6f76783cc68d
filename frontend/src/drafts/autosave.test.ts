import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '../api/client'
import type { DocumentRecord } from '../api/documents'
import { Autosaver, type Snapshot } from './autosave'

function record(id: string, version: number, s: Snapshot): DocumentRecord {
  return { id, version, ...s, created_at: '', updated_at: '', share_id: null, published: false }
}

/** A fake API whose server holds one document and can be told to fail. */
function server(start = { version: 1, title: 'T', body: '' }) {
  const doc = { ...start }
  const calls: { id: string | null; version?: number; body: string }[] = []
  let down = false
  return {
    doc,
    calls,
    setDown: (d: boolean) => (down = d),
    api: {
      create: vi.fn(async (s: Snapshot) => {
        calls.push({ id: null, body: s.body })
        if (down) throw new ApiError(0, 'network', 'down')
        Object.assign(doc, s, { version: 1 })
        return record('new-id', 1, s)
      }),
      update: vi.fn(async (id: string, c: Snapshot & { version: number }) => {
        calls.push({ id, version: c.version, body: c.body })
        if (down) throw new ApiError(0, 'network', 'down')
        if (c.version !== doc.version) {
          throw new ApiError(409, 'version_conflict', 'conflict', { current: record(id, doc.version, doc) })
        }
        doc.version += 1
        doc.title = c.title
        doc.body = c.body
        return record(id, doc.version, doc)
      }),
    },
  }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

/** A saver at version 1 whose first save of `mine` meets `theirs`, saved at `version` by another tab. */
function conflicting(version: number, theirs: string, mine: string) {
  const srv = server()
  const onConflict = vi.fn()
  const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api, { onConflict })
  Object.assign(srv.doc, { version, body: theirs })
  saver.change({ title: 'T', body: mine })
  return { srv, onConflict, saver }
}

describe('Autosaver', () => {
  it('saves once after a pause with the version it last saw', async () => {
    const srv = server()
    const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api)
    saver.change({ title: 'T', body: 'a' })
    saver.change({ title: 'T', body: 'ab' })
    expect(saver.getState().status).toBe('unsaved')
    await vi.advanceTimersByTimeAsync(800)
    expect(srv.calls).toEqual([{ id: 'd1', version: 1, body: 'ab' }])
    expect(saver.getState()).toMatchObject({ status: 'saved', version: 2 })
    saver.change({ title: 'T', body: 'abc' })
    await vi.advanceTimersByTimeAsync(800)
    expect(srv.calls[1]).toEqual({ id: 'd1', version: 2, body: 'abc' })
  })

  it('creates a draft that has no id yet', async () => {
    const srv = server()
    const onSaved = vi.fn()
    const saver = new Autosaver({ id: null, version: null, title: '', body: '' }, srv.api, { onSaved })
    saver.change({ title: '', body: 'hello' })
    await vi.advanceTimersByTimeAsync(800)
    expect(saver.getState()).toMatchObject({ id: 'new-id', version: 1, status: 'saved' })
    expect(onSaved).toHaveBeenCalledOnce()
  })

  it('goes offline, keeps the text and retries with backoff', async () => {
    const srv = server()
    const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api)
    srv.setDown(true)
    saver.change({ title: 'T', body: 'typed while down' })
    await vi.advanceTimersByTimeAsync(800)
    expect(saver.getState().status).toBe('offline')
    expect(saver.hasUnsavedChanges()).toBe(true)
    saver.change({ title: 'T', body: 'typed while down, more' })
    await vi.advanceTimersByTimeAsync(1100)
    expect(srv.calls).toHaveLength(2)
    srv.setDown(false)
    await vi.advanceTimersByTimeAsync(2200)
    expect(saver.getState().status).toBe('saved')
    expect(srv.doc.body).toBe('typed while down, more')
  })

  it('on a version conflict keeps our text, hands theirs over, and saves on top', async () => {
    const { srv, onConflict, saver } = conflicting(5, 'from another tab', 'mine')
    await vi.advanceTimersByTimeAsync(800)
    await vi.advanceTimersByTimeAsync(10)
    expect(onConflict).toHaveBeenCalledOnce()
    expect(onConflict.mock.calls[0][0].body).toBe('from another tab')
    expect(srv.doc).toMatchObject({ body: 'mine', version: 6 })
    expect(saver.getState()).toMatchObject({ status: 'saved', version: 6 })
  })

  it('treats a conflict with identical text as saved', async () => {
    const { srv, onConflict, saver } = conflicting(3, 'same', 'same')
    await vi.advanceTimersByTimeAsync(800)
    expect(onConflict).not.toHaveBeenCalled()
    expect(saver.getState()).toMatchObject({ status: 'saved', version: 3 })
    expect(srv.calls).toHaveLength(1)
  })

  it('adopts text saved elsewhere only when nothing here is unsaved', async () => {
    const srv = server()
    const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api)
    expect(saver.adopt({ version: 2, title: 'T', body: 'other' })).toBe(true)
    expect(saver.adopt({ version: 2, title: 'T', body: 'other' })).toBe(false)
    saver.change({ title: 'T', body: 'mine' })
    expect(saver.adopt({ version: 3, title: 'T', body: 'newer' })).toBe(false)
  })

  it('says so when the draft was deleted elsewhere, and can save it anew', async () => {
    const srv = server()
    srv.api.update.mockRejectedValueOnce(new ApiError(404, 'not_found', 'gone'))
    const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api)
    saver.change({ title: 'T', body: 'kept' })
    await vi.advanceTimersByTimeAsync(800)
    expect(saver.getState()).toMatchObject({ status: 'error', gone: true })
    await vi.advanceTimersByTimeAsync(60000)
    expect(srv.api.update).toHaveBeenCalledOnce()
    await saver.saveAsNew({ title: 'T', body: 'kept' })
    expect(saver.getState()).toMatchObject({ status: 'saved', id: 'new-id' })
  })

  it('flushes at once on request', async () => {
    const srv = server()
    const saver = new Autosaver({ id: 'd1', version: 1, title: 'T', body: '' }, srv.api)
    saver.change({ title: 'T2', body: '' })
    await saver.flush()
    expect(srv.doc.title).toBe('T2')
  })
})
