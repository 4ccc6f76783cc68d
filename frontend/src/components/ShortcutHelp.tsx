import { useEffect, useRef } from 'react'

const SHORTCUTS: [string, string][] = [
  ['Tab', 'Accept the whole suggestion'],
  ['Ctrl/⌘ + →', 'Accept the next word'],
  ['Esc', 'Dismiss the suggestion'],
  ['Ctrl + Space', 'Suggest now'],
  ['Alt + ]  /  Alt + [', 'Next / previous alternative'],
  ['Ctrl/⌘ + Z', 'Undo (an accepted suggestion is one step)'],
  ['Ctrl/⌘ + S', 'Save now'],
  ['Ctrl + /  or  ?', 'Show this help'],
]

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null
    close.current?.focus()
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose()
    window.addEventListener('keydown', onKey)
    return () => {
      window.removeEventListener('keydown', onKey)
      previous?.focus?.()
    }
  }, [onClose])
  return (
    <div className="overlay" onClick={onClose}>
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="shortcut-title"
        data-testid="shortcut-help"
        onClick={(e) => e.stopPropagation()}
      >
        <header className="popover-head">
          <h2 id="shortcut-title">Keyboard shortcuts</h2>
          <button ref={close} type="button" className="icon-button" onClick={onClose} aria-label="Close">
            ×
          </button>
        </header>
        <dl className="shortcuts">
          {SHORTCUTS.map(([keys, what]) => (
            <div key={keys}>
              <dt>
                <kbd>{keys}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      </div>
    </div>
  )
}
