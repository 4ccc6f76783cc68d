import { createEditor, Editor, Transforms } from 'slate'
import { withHistory } from 'slate-history'
import { describe, expect, it } from 'vitest'
import { fromBody, suggestedSpans, toBody } from '../drafts/body'
import { insertSuggestion } from './accept'
import type { Paragraph } from './schema'
import { atParagraphEnd, textBeforeCursor } from './cursor'
import { ghostDecorations } from './ghost'
import { withWriteup } from './plugins'

function editorWith(body: string) {
  const editor = withWriteup(withHistory(createEditor()))
  editor.children = fromBody(body)
  Transforms.select(editor, Editor.end(editor, []))
  return editor
}

describe('cursor', () => {
  it('gives the text before the cursor across paragraphs', () => {
    const editor = editorWith('First line\nSecond')
    expect(textBeforeCursor(editor)).toBe('First line\nSecond')
    expect(atParagraphEnd(editor)).toBe(true)
    Transforms.select(editor, { path: [1, 0], offset: 3 })
    expect(textBeforeCursor(editor)).toBe('First line\nSec')
    expect(atParagraphEnd(editor)).toBe(false)
  })

  it('has no prompt for a selected range', () => {
    const editor = editorWith('abc')
    Transforms.select(editor, { anchor: { path: [0, 0], offset: 0 }, focus: { path: [0, 0], offset: 2 } })
    expect(textBeforeCursor(editor)).toBeNull()
  })
})

describe('insertSuggestion', () => {
  it('marks the accepted text with the model and leaves later typing unmarked', () => {
    const editor = editorWith('The cat')
    insertSuggestion(editor, ' sat on', 'smollm2')
    Editor.insertText(editor, ' mats')
    expect(toBody(editor.children)).toBe('The cat sat on mats')
    expect(suggestedSpans(editor.children)).toEqual([{ start: 7, end: 14, model: 'smollm2' }])
  })

  it('is one undo step, apart from typing before and after it', () => {
    const editor = editorWith('')
    Editor.insertText(editor, 'The')
    Editor.insertText(editor, ' cat')
    insertSuggestion(editor, ' sat on', 'smollm2')
    Editor.insertText(editor, ' the')
    editor.undo()
    expect(toBody(editor.children)).toBe('The cat sat on')
    editor.undo()
    expect(toBody(editor.children)).toBe('The cat')
    editor.redo()
    expect(toBody(editor.children)).toBe('The cat sat on')
  })

  it('turns newlines into paragraphs, still one undo step', () => {
    const editor = editorWith('Roses are red')
    insertSuggestion(editor, ',\nviolets', 'poetry')
    expect(toBody(editor.children)).toBe('Roses are red,\nviolets')
    expect(editor.children).toHaveLength(2)
    editor.undo()
    expect(toBody(editor.children)).toBe('Roses are red')
  })
})

describe('ghostDecorations', () => {
  it('covers the character before the cursor', () => {
    const editor = editorWith('ab')
    const ranges = ghostDecorations([(editor.children[0] as Paragraph).children[0], [0, 0]], editor.selection, ' c')
    expect(ranges).toEqual([
      { anchor: { path: [0, 0], offset: 1 }, focus: { path: [0, 0], offset: 2 }, ghost: ' c', ghostSide: 'after' },
    ])
  })

  it('covers an empty line whole, and nothing elsewhere', () => {
    const editor = editorWith('ab\n')
    expect(ghostDecorations([(editor.children[1] as Paragraph).children[0], [1, 0]], editor.selection, 'x')).toHaveLength(1)
    expect(ghostDecorations([(editor.children[0] as Paragraph).children[0], [0, 0]], editor.selection, 'x')).toEqual([])
    expect(ghostDecorations([(editor.children[1] as Paragraph).children[0], [1, 0]], editor.selection, '')).toEqual([])
  })
})
