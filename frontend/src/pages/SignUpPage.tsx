import { accounts } from '../api/accounts'
import { ApiError } from '../api/client'
import { FieldError, formProblem } from '../components/FormError'
import { FormSend } from '../components/FormSend'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { formText, useFormSubmit, type Refusal } from '../hooks/useFormSubmit'
import { useTitle } from '../hooks/useTitle'
import { nextPath } from '../routes'
import { startOver } from '../session/useSession'

/** Refusals that belong next to one field. */
const TAKEN: Record<string, string> = { username_taken: 'username' }

function signUpRefusal(err: unknown): Refusal {
  const problem = formProblem(err)
  const field = err instanceof ApiError ? TAKEN[err.code] : undefined
  if (field) problem.fields[field] = problem.message
  // Field messages sit by their fields; the form only says where to look.
  return {
    message: Object.keys(problem.fields).length ? 'Please fix the marked fields.' : problem.message,
    fields: problem.fields,
  }
}

/** Create an account; what this browser wrote so far comes along. */
export function SignUpPage() {
  const { submit, busy, error, fields } = useFormSubmit(
    async (form) => {
      await accounts.signUp(formText(form, 'username'), formText(form, 'email'), formText(form, 'password'))
      startOver(nextPath())
    },
    { refusal: signUpRefusal },
  )
  useTitle('Create an account')

  const field = (name: string) => ({
    name,
    'aria-invalid': fields[name] ? true : undefined,
    'aria-describedby': fields[name] ? `${name}-error` : undefined,
  })

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Create an account</h1>
        <p className="hint">
          An account keeps your drafts wherever you sign in, and lets you publish to the gallery and vote. Drafts you
          wrote in this browser move into it.
        </p>
        <form className="stack" onSubmit={submit}>
          <label>
            Username (shown on your public pieces)
            <input {...field('username')} autoComplete="username" required maxLength={150} data-testid="signup-username" autoFocus />
            <FieldError id="username-error" message={fields.username} />
          </label>
          <label>
            E-mail (for password resets; never shown)
            <input {...field('email')} type="email" autoComplete="email" required data-testid="signup-email" />
            <FieldError id="email-error" message={fields.email} />
          </label>
          <label>
            Password (at least 8 characters, not a common one)
            <input {...field('password')} type="password" autoComplete="new-password" required minLength={8} data-testid="signup-password" />
            <FieldError id="password-error" message={fields.password} />
          </label>
          <FormSend error={error} busy={busy} testId="signup-submit" sending="Creating…">
            Create account
          </FormSend>
        </form>
        <p>
          Have one already? <Link href={`/signin${location.search}`}>Sign in</Link>
        </p>
      </main>
    </div>
  )
}
