import { AccountMenu } from './AccountMenu'
import { Link } from './Link'

/** The bar above every page that is not the editor. */
export function PageHeader() {
  return (
    <header className="topbar">
      <Link className="brand" href="/">
        writeup
      </Link>
      <nav className="nav-links" aria-label="Site">
        <Link href="/" data-testid="write-link">
          Write
        </Link>
        <Link href="/gallery" data-testid="gallery-link">
          Gallery
        </Link>
      </nav>
      <span className="spacer" />
      <AccountMenu />
    </header>
  )
}
