/** Putting accepted suggestion text into the document. */
import { Editor } from 'slate'
import { HistoryEditor } from 'slate-history'

/**
 * Inserts `text` at the cursor, marked as written by `model`, as one undo step
 * of its own: undo takes back exactly the accepted text, nothing typed around it.
 */
export function insertSuggestion(editor: Editor, text: string, model: string | null): void {
  if (!text || !editor.selection) return
  const marks = model ? { suggested: true, model } : { suggested: true }
  HistoryEditor.withNewBatch(editor, () => {
    text.split('\n').forEach((line, i) => {
      if (i > 0) Editor.insertBreak(editor)
      if (line) {
        editor.marks = marks
        Editor.insertText(editor, line)
      }
    })
  })
  editor.marks = null
  HistoryEditor.setSplittingOnce(editor, true)
}
