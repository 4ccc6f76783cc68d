import type { ReactNode } from 'react'
import { FormError } from './FormError'

/** The end of an account form: the refusal, if any, above its submit button, which is disabled while it sends. */
export function FormSend({ error, busy, testId, sending, children }: {
  error: string | null
  busy: boolean
  testId: string
  /** The button's words while it sends (by default its usual words). */
  sending?: string
  children: ReactNode
}) {
  return (
    <>
      <FormError message={error} />
      <button type="submit" className="primary" data-testid={testId} disabled={busy}>
        {busy && sending ? sending : children}
      </button>
    </>
  )
}
