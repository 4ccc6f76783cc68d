import { describe, expect, it } from 'vitest'
import { remoteUpdate } from './remote'

describe('remoteUpdate', () => {
  it('reads a document_updated message', () => {
    const m = { type: 'document_updated', document: 'd', version: 3, title: 'T', body: 'B', origin: 'tab-1',
      spans: [{ start: 0, end: 1, model: 'smollm2' }] }
    expect(remoteUpdate(m)).toEqual({ origin: 'tab-1', version: 3, title: 'T', body: 'B',
      spans: [{ start: 0, end: 1, model: 'smollm2' }] })
  })

  it('refuses a malformed one and drops malformed spans', () => {
    expect(remoteUpdate({ type: 'document_updated', version: '3', title: 'T', body: 'B' })).toBeNull()
    expect(remoteUpdate({ type: 'document_updated', version: 3, title: 'T' })).toBeNull()
    expect(remoteUpdate({ type: 'document_updated', version: 3, title: 'T', body: 'B', spans: 'x' })).toBeNull()
    const update = remoteUpdate({ type: 'document_updated', version: 3, title: 'T', body: 'B', origin: null,
      spans: [{ start: 0 }, null, { start: 0, end: 1, model: null }] })
    expect(update?.spans).toEqual([{ start: 0, end: 1, model: null }])
    expect(update?.origin).toBeNull()
  })
})
