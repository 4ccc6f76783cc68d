import { PageHeader } from './components/PageHeader'
import { useTitle } from './hooks/useTitle'
import { AccountPage } from './pages/AccountPage'
import { EditorPage } from './pages/EditorPage'
import { GalleryPage } from './pages/GalleryPage'
import { ResetConfirmPage, ResetRequestPage } from './pages/ResetPages'
import { SharedPage } from './pages/SharedPage'
import { SignInPage } from './pages/SignInPage'
import { SignUpPage } from './pages/SignUpPage'
import { parseRoute, usePathname } from './routes'

export function App() {
  const route = parseRoute(usePathname())
  switch (route.name) {
    case 'editor':
      return <EditorPage routeId={route.id} />
    case 'shared':
      return <SharedPage shareId={route.shareId} />
    case 'gallery':
      return <GalleryPage />
    case 'signIn':
      return <SignInPage />
    case 'signUp':
      return <SignUpPage />
    case 'reset':
      return <ResetRequestPage />
    case 'resetConfirm':
      return <ResetConfirmPage uid={route.uid} token={route.token} />
    case 'account':
      return <AccountPage />
    default:
      return <NotFound />
  }
}

function NotFound() {
  useTitle('Not found')
  return (
    <>
      <PageHeader />
      <main className="page">
        <h1>Not found</h1>
        <p>
          Nothing lives at this address. <a href="/">Open the editor</a>.
        </p>
      </main>
    </>
  )
}
