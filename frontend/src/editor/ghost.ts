/**
 * Ghost text as a Slate decoration. A decoration cannot be empty, so it covers
 * the character next to the cursor and the leaf renders the ghost beside it.
 */
import { Range, Text, type NodeEntry, type Path } from 'slate'
import type { GhostRange } from './schema'

export function ghostDecorations(
  entry: NodeEntry,
  selection: Range | null,
  ghost: string,
): GhostRange[] {
  const [node, path] = entry
  if (!ghost || !selection || !Range.isCollapsed(selection) || !Text.isText(node)) return []
  const { anchor } = selection
  if (!samePath(anchor.path, path)) return []
  const { offset } = anchor
  if (node.text.length === 0) {
    return [{ anchor: { path, offset: 0 }, focus: { path, offset: 0 }, ghost, ghostSide: 'after' }]
  }
  if (offset > 0) {
    return [{ anchor: { path, offset: offset - 1 }, focus: { path, offset }, ghost, ghostSide: 'after' }]
  }
  return [{ anchor: { path, offset: 0 }, focus: { path, offset: 1 }, ghost, ghostSide: 'before' }]
}

function samePath(a: Path, b: Path): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
