/** A popover's title and the × that closes it (Escape does too, see useEscape). */
export function PopoverHead({ title, closeLabel, onClose }: { title: string; closeLabel: string; onClose: () => void }) {
  return (
    <header className="popover-head">
      <h2>{title}</h2>
      <button type="button" className="icon-button" onClick={onClose} aria-label={closeLabel}>
        ×
      </button>
    </header>
  )
}
