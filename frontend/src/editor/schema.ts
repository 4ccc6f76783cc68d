import type { BaseEditor, BaseRange, Descendant } from 'slate'
import type { HistoryEditor } from 'slate-history'
import type { ReactEditor } from 'slate-react'

/** A run of text; `suggested` marks text a model wrote and the writer accepted. */
export interface WriteupText {
  text: string
  suggested?: boolean
  /** Route of the model that wrote it. */
  model?: string
}

export interface Paragraph {
  type: 'paragraph'
  children: WriteupText[]
}

/** Decoration carrying the ghost text, shown next to the character it covers. */
export interface GhostRange extends BaseRange {
  ghost?: string
  ghostSide?: 'before' | 'after'
}

declare module 'slate' {
  interface CustomTypes {
    Editor: BaseEditor & ReactEditor & HistoryEditor
    Element: Paragraph
    Text: WriteupText
    Range: GhostRange
  }
}

export type Value = Descendant[]
