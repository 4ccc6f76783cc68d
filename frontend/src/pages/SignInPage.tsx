import { accounts } from '../api/accounts'
import { FormSend } from '../components/FormSend'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { formText, useFormSubmit } from '../hooks/useFormSubmit'
import { useTitle } from '../hooks/useTitle'
import { nextPath } from '../routes'
import { startOver } from '../session/useSession'

/** Sign in by username or e-mail; this browser's anonymous drafts join the account. */
export function SignInPage() {
  const { submit, busy, error } = useFormSubmit(async (form) => {
    await accounts.signIn(formText(form, 'login'), formText(form, 'password'))
    startOver(nextPath())
  })
  useTitle('Sign in')

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Sign in</h1>
        <p className="hint">Drafts you wrote in this browser without an account move into it.</p>
        <form className="stack" onSubmit={submit}>
          <label>
            Username or e-mail
            <input name="login" autoComplete="username" required data-testid="signin-login" autoFocus />
          </label>
          <label>
            Password
            <input name="password" type="password" autoComplete="current-password" required data-testid="signin-password" />
          </label>
          <FormSend error={error} busy={busy} testId="signin-submit" sending="Signing in…">
            Sign in
          </FormSend>
        </form>
        <p>
          New here? <Link href={`/signup${location.search}`}>Create an account</Link> ·{' '}
          <Link href="/reset">Forgot your password?</Link>
        </p>
      </main>
    </div>
  )
}
