import type { SuggestionState } from '../suggest/machine'

interface Props {
  state: SuggestionState
  options: { index: number; text: string }[]
  onPick: (index: number) => void
}

/** The alternatives of the current suggestion; a click inserts one. */
export function SuggestionPanel({ state, options, onPick }: Props) {
  const streaming = state.phase === 'streaming'
  const shown = options.filter((o) => o.text !== '' || streaming)
  return (
    <aside
      className="suggestion-panel"
      aria-label="Suggestions"
      data-testid="suggestion-panel"
      data-phase={state.phase}
      data-has-items={shown.length > 0}
    >
      <h2>Suggestions</h2>
      {state.phase === 'waiting' && <p className="hint">Waiting for a pause…</p>}
      {state.phase === 'idle' && <p className="hint">Pause at the end of a paragraph, or press Ctrl+Space.</p>}
      {shown.length > 0 && (
        <ol>
          {shown.map((o) => (
            <li key={o.index}>
              <button
                type="button"
                className="suggestion-item"
                data-testid="suggestion-item"
                data-index={o.index}
                aria-pressed={o.index === state.active}
                onMouseDown={(e) => e.preventDefault() /* keep the editor's selection */}
                onClick={() => onPick(o.index)}
              >
                {o.text.trim() ? o.text.trim() : <span className="hint">…</span>}
              </button>
            </li>
          ))}
        </ol>
      )}
      {shown.length > 1 && <p className="hint">Alt+] and Alt+[ switch between them.</p>}
    </aside>
  )
}
