import { useCallback, type KeyboardEvent } from 'react'
import type { Editor, NodeEntry } from 'slate'
import { Editable, Slate } from 'slate-react'
import { ghostDecorations } from './ghost'
import { Leaf } from './Leaf'
import type { Value } from './schema'

interface Props {
  editor: Editor
  initialValue: Value
  ghost: string
  onChange: (value: Value, contentChanged: boolean) => void
  onKeyDown: (event: KeyboardEvent) => void
}

/** The document body: Slate with the ghost suggestion decorated at the cursor. */
export function BodyEditor({ editor, initialValue, ghost, onChange, onKeyDown }: Props) {
  const decorate = useCallback(
    (entry: NodeEntry) => ghostDecorations(entry, editor.selection, ghost),
    // The selection is read at render time; a new ghost string re-decorates.
    [editor, ghost],
  )
  return (
    <Slate
      editor={editor}
      initialValue={initialValue}
      onChange={(value) => onChange(value, editor.operations.some((op) => op.type !== 'set_selection'))}
    >
      <Editable
        className="body-editor"
        data-testid="editor-body"
        aria-label="Document body"
        aria-multiline="true"
        placeholder="Start writing. Pause, and a suggestion appears in grey; Tab takes it."
        renderLeaf={Leaf}
        renderPlaceholder={({ attributes, children }) => (
          // Slate's default 1/3 opacity is too faint to read.
          <span {...attributes} className="placeholder" style={{ ...attributes.style, opacity: 1 }}>
            {children}
          </span>
        )}
        decorate={decorate}
        onKeyDown={onKeyDown}
        spellCheck
      />
    </Slate>
  )
}
