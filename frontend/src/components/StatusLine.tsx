interface Props {
  messages: (string | null | undefined)[]
  onDismissNotice?: () => void
  notice: string | null
}

/** Messages for the writer, read out by screen readers as they change. */
export function StatusLine({ messages, notice, onDismissNotice }: Props) {
  const shown = messages.filter(Boolean) as string[]
  return (
    <div className="status-line" role="status" aria-live="polite" data-testid="status-message">
      {notice && (
        <p className="notice">
          {notice}{' '}
          <button type="button" className="link-button" onClick={onDismissNotice}>
            OK
          </button>
        </p>
      )}
      {shown.map((m) => (
        <p key={m}>{m}</p>
      ))}
    </div>
  )
}
