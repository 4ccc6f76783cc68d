import { useState, type FormEvent } from 'react'
import { accounts } from '../api/accounts'
import { FormError, formProblem } from '../components/FormError'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { useTitle } from '../hooks/useTitle'
import { nextPath } from '../routes'
import { startOver } from '../session/useSession'

/** Sign in by username or e-mail; this browser's anonymous drafts join the account. */
export function SignInPage() {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useTitle('Sign in')

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    setBusy(true)
    setError(null)
    try {
      await accounts.signIn(String(form.get('login') ?? ''), String(form.get('password') ?? ''))
      startOver(nextPath())
    } catch (err) {
      setError(formProblem(err).message)
      setBusy(false)
    }
  }

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
          <FormError message={error} />
          <button type="submit" className="primary" data-testid="signin-submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p>
          New here? <Link href={`/signup${location.search}`}>Create an account</Link> ·{' '}
          <Link href="/reset">Forgot your password?</Link>
        </p>
      </main>
    </div>
  )
}
