import { EditorPage } from './pages/EditorPage'
import { SharedPage } from './pages/SharedPage'
import { parseRoute, usePathname } from './routes'

export function App() {
  const route = parseRoute(usePathname())
  switch (route.name) {
    case 'editor':
      return <EditorPage routeId={route.id} />
    case 'shared':
      return <SharedPage shareId={route.shareId} />
    default:
      return (
        <main className="page">
          <h1>Not found</h1>
          <p>
            Nothing lives at this address. <a href="/">Open the editor</a>.
          </p>
        </main>
      )
  }
}
