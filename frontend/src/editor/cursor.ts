/** What the suggestion machine needs to know about the cursor. */
import { Editor, Node, Range } from 'slate'

/** Body text before the collapsed cursor, paragraphs joined by newlines; null otherwise. */
export function textBeforeCursor(editor: Editor): string | null {
  const { selection } = editor
  if (!selection || !Range.isCollapsed(selection)) return null
  const { path, offset } = selection.anchor
  const [block, leaf] = path
  const parts: string[] = []
  for (let i = 0; i < block; i++) parts.push(Node.string(editor.children[i]))
  const paragraph = editor.children[block]
  if (!paragraph || !('children' in paragraph)) return parts.join('\n')
  let current = ''
  paragraph.children.forEach((t, i) => {
    if (i < leaf) current += t.text
    else if (i === leaf) current += t.text.slice(0, offset)
  })
  parts.push(current)
  return parts.join('\n')
}

/** True when the cursor sits at the end of its paragraph: where a continuation belongs. */
export function atParagraphEnd(editor: Editor): boolean {
  const { selection } = editor
  if (!selection || !Range.isCollapsed(selection)) return false
  return Editor.isEnd(editor, selection.anchor, selection.anchor.path.slice(0, 1))
}

/** The whole body text, paragraphs joined by newlines (as before a cursor at the end). */
export function wholeText(editor: Editor): string {
  return editor.children.map((block) => Node.string(block)).join('\n')
}
