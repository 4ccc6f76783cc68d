import { ApiError } from '../api/client'

/** The server's sentence for a refused form, and per-field messages when it sent them. */
export function formProblem(e: unknown): { message: string; fields: Record<string, string> } {
  if (!(e instanceof ApiError)) return { message: 'Something went wrong; try again.', fields: {} }
  const errors = ((e.body as { errors?: Record<string, string[] | string> } | null)?.errors ?? {}) as Record<
    string,
    string[] | string
  >
  const fields: Record<string, string> = {}
  for (const [field, value] of Object.entries(errors)) fields[field] = Array.isArray(value) ? value.join(' ') : String(value)
  return { message: e.status === 0 ? 'The server cannot be reached. Are you offline?' : e.message, fields }
}

export function FormError({ message }: { message: string | null }) {
  return message ? (
    <p role="alert" className="form-error" data-testid="form-error">
      {message}
    </p>
  ) : null
}

export function FieldError({ message, id }: { message?: string; id: string }) {
  return message ? (
    <span className="field-error" id={id}>
      {message}
    </span>
  ) : null
}
