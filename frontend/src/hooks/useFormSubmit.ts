import { useState, type FormEvent } from 'react'
import { formProblem } from '../components/FormError'

/** What a refused form shows: one sentence, and messages that sit by their fields. */
export interface Refusal {
  message: string
  fields: Record<string, string>
}

interface Options {
  /** A sentence when the form must not be sent as it stands (nothing is sent then). */
  check?: (form: FormData) => string | null
  /** How a refusal reads; by default the server's sentence and no field messages. */
  refusal?: (err: unknown) => Refusal
}

const serverSentence = (err: unknown): Refusal => ({ message: formProblem(err).message, fields: {} })

/**
 * The submit of a form that talks to the server, shared by the sign-in,
 * sign-up, reset and account pages: `send` gets the form's fields while
 * `busy` disables the button, and a refusal fills `error` (and `fields`).
 * A successful `send` leaves the page or replaces the form, so `busy` stays
 * set after it: a second click cannot send twice.
 */
export function useFormSubmit(send: (form: FormData) => Promise<void>, { check, refusal = serverSentence }: Options = {}) {
  const [error, setError] = useState<string | null>(null)
  const [fields, setFields] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const problem = check?.(form)
    if (problem) {
      setError(problem)
      return
    }
    setBusy(true)
    setError(null)
    setFields({})
    try {
      await send(form)
    } catch (err) {
      const refused = refusal(err)
      setError(refused.message)
      setFields(refused.fields)
      setBusy(false)
    }
  }

  return { submit, busy, error, fields }
}

/** A form field's text ('' when the form has no such field). */
export const formText = (form: FormData, name: string): string => String(form.get(name) ?? '')
