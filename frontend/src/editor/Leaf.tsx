import type { RenderLeafProps } from 'slate-react'
import type { GhostRange, WriteupText } from './schema'

type LeafWithGhost = WriteupText & Pick<GhostRange, 'ghost' | 'ghostSide'>

/** A run of text, plus the ghost suggestion when the cursor sits next to it. */
export function Leaf({ attributes, children, leaf }: RenderLeafProps) {
  const { ghost, ghostSide, suggested, model } = leaf as LeafWithGhost
  const ghostText = ghost ? (
    // Not editable and not selectable: it is not part of the document until accepted.
    <span className="ghost" contentEditable={false} data-testid="ghost-text" aria-hidden="true">
      {ghost}
    </span>
  ) : null
  return (
    <span {...attributes} className={suggested ? 'accepted' : undefined} data-model={suggested ? model : undefined}>
      {ghostSide === 'before' && ghostText}
      {children}
      {ghostSide === 'after' && ghostText}
    </span>
  )
}
