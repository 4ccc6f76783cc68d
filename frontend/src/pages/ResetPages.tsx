import { useState } from 'react'
import { accounts } from '../api/accounts'
import { FormSend } from '../components/FormSend'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { formText, useFormSubmit } from '../hooks/useFormSubmit'
import { useTitle } from '../hooks/useTitle'
import { startOver } from '../session/useSession'

/** Ask for a reset link by e-mail. */
export function ResetRequestPage() {
  const [sent, setSent] = useState<string | null>(null)
  const { submit, busy, error } = useFormSubmit(async (form) => {
    setSent((await accounts.requestReset(formText(form, 'email'))).message)
  })
  useTitle('Reset your password')

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Reset your password</h1>
        {sent ? (
          <p role="status" data-testid="reset-sent">
            {sent}
          </p>
        ) : (
          <form className="stack" onSubmit={submit}>
            <label>
              Your account's e-mail
              <input name="email" type="email" autoComplete="email" required data-testid="reset-email" autoFocus />
            </label>
            <FormSend error={error} busy={busy} testId="reset-submit">
              Send me a link
            </FormSend>
          </form>
        )}
        <p>
          <Link href="/signin">Back to sign in</Link>
        </p>
      </main>
    </div>
  )
}

/** The page the e-mailed link opens: choose a new password, then you are signed in. */
export function ResetConfirmPage({ uid, token }: { uid: string; token: string }) {
  const { submit, busy, error } = useFormSubmit(
    async (form) => {
      await accounts.confirmReset(uid, token, formText(form, 'password'))
      startOver('/')
    },
    {
      check: (form) =>
        formText(form, 'password') !== formText(form, 'again') ? 'The two passwords differ; type the same one twice.' : null,
    },
  )
  useTitle('Reset your password')

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Choose a new password</h1>
        <form className="stack" onSubmit={submit}>
          <label>
            New password
            <input name="password" type="password" autoComplete="new-password" required minLength={8} data-testid="reset-password" autoFocus />
          </label>
          <label>
            The same again
            <input name="again" type="password" autoComplete="new-password" required data-testid="reset-password-again" />
          </label>
          <FormSend error={error} busy={busy} testId="reset-confirm">
            Set password and sign in
          </FormSend>
        </form>
        <p>
          Link expired? <Link href="/reset">Ask for a new one</Link>.
        </p>
      </main>
    </div>
  )
}
