import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import type { DocumentRecord } from '../api/documents'
import { toBody } from './body'
import type { LocalDraft } from './localCopy'
import { planOpen } from './open'

const server = (body: string, version = 3): DocumentRecord => ({
  id: 'd1',
  title: 'T',
  body,
  version,
  created_at: '',
  updated_at: '',
  share_id: null,
  published: false,
})

const local = (body: string, patch: Partial<LocalDraft> = {}): LocalDraft => ({
  id: 'd1',
  title: 'T',
  body,
  spans: [],
  baseVersion: 3,
  dirty: true,
  updatedAt: 0,
  ...patch,
})

const offline = new ApiError(0, 'network', 'down')
const gone = new ApiError(404, 'not_found', 'gone')

describe('planOpen', () => {
  it('shows the server copy when this browser has nothing newer', () => {
    const plan = planOpen('d1', server('saved'), null, local('older', { dirty: false }))
    expect(plan).toMatchObject({ kind: 'ready', restore: false, base: { id: 'd1', version: 3, body: 'saved' } })
    if (plan.kind === 'ready') expect(toBody(plan.value)).toBe('saved')
  })

  it('restores unsaved local text on top of the version it was based on', () => {
    const plan = planOpen('d1', server('saved'), null, local('saved, and more'))
    expect(plan).toMatchObject({ kind: 'ready', restore: true, keepOther: null, base: { version: 3, body: 'saved' } })
    if (plan.kind === 'ready') expect(toBody(plan.value)).toBe('saved, and more')
  })

  it('keeps the server version as a copy when both changed', () => {
    const plan = planOpen('d1', server('changed elsewhere', 5), null, local('mine'))
    expect(plan).toMatchObject({ kind: 'ready', restore: true, keepOther: { body: 'changed elsewhere' } })
  })

  it('keeps accepted-suggestion marks while the text still matches', () => {
    const spans = [{ start: 0, end: 3, model: 'smollm2' }]
    const plan = planOpen('d1', server('abcdef'), null, local('abcdef', { dirty: false, spans }))
    if (plan.kind !== 'ready') throw new Error(plan.kind)
    expect(plan.value[0]).toEqual({
      type: 'paragraph',
      children: [{ text: 'abc', suggested: true, model: 'smollm2' }, { text: 'def' }],
    })
  })

  it('shows the spans the server saved', () => {
    const spans = [{ start: 3, end: 6, model: 'poetry' }]
    const plan = planOpen('d1', { ...server('abcdef'), spans }, null, local('abcdef', { dirty: false }))
    if (plan.kind !== 'ready') throw new Error(plan.kind)
    expect(plan.value[0]).toEqual({
      type: 'paragraph',
      children: [{ text: 'abc' }, { text: 'def', suggested: true, model: 'poetry' }],
    })
    expect(plan.base.spans).toEqual(spans)
  })

  it('restores marks accepted offline even when the text matches the server', () => {
    const spans = [{ start: 0, end: 3, model: 'smollm2' }]
    const plan = planOpen('d1', { ...server('abcdef'), spans: [] }, null, local('abcdef', { spans }))
    expect(plan).toMatchObject({ kind: 'ready', restore: true })
  })

  it('works from the local copy while the server is away', () => {
    const plan = planOpen('d1', null, offline, local('typed offline'))
    expect(plan).toMatchObject({ kind: 'ready', restore: true, base: { id: 'd1', version: 3 } })
    expect(planOpen('d1', null, offline, null)).toEqual({ kind: 'failed' })
  })

  it('saves the local text of a deleted draft as a new draft, or says it is missing', () => {
    expect(planOpen('d1', null, gone, local('kept'))).toMatchObject({
      kind: 'ready',
      restore: true,
      forget: 'd1',
      base: { id: null, version: null },
    })
    expect(planOpen('d1', null, gone, local('kept', { dirty: false }))).toEqual({ kind: 'missing' })
  })

  it('opens a blank new draft, or the unsaved one from last time', () => {
    expect(planOpen(null, null, null, null)).toMatchObject({ kind: 'ready', restore: false, base: { id: null } })
    expect(planOpen(null, null, null, local('half a thought', { id: null }))).toMatchObject({
      kind: 'ready',
      restore: true,
      title: 'T',
    })
  })
})
