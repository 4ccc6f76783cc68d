/** Editor behaviour writeup adds to Slate: keep the writer's text apart from the model's. */
import { Editor, Range } from 'slate'

export function withWriteup(editor: Editor): Editor {
  const { insertText } = editor
  editor.insertText = (text, options) => {
    const { selection } = editor
    if (!editor.marks && selection && Range.isCollapsed(selection)) {
      const [leaf] = Editor.leaf(editor, selection.anchor)
      // Typing next to or inside accepted text is the writer's own words.
      if (leaf.suggested) editor.marks = {}
    }
    insertText(text, options)
  }
  return editor
}
