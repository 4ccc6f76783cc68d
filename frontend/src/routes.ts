/** Client-side routes; Django answers every path with index.html. */
import { useSyncExternalStore } from 'react'

export type Route =
  | { name: 'editor'; id: string | null }
  | { name: 'shared'; shareId: string }
  | { name: 'notFound' }

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { name: 'editor', id: null }
  const draft = /^\/d\/([0-9a-fA-F-]{8,64})\/?$/.exec(pathname)
  if (draft) return { name: 'editor', id: draft[1] }
  const shared = /^\/s\/([\w-]{1,128})\/?$/.exec(pathname)
  if (shared) return { name: 'shared', shareId: shared[1] }
  return { name: 'notFound' }
}

const CHANGE = 'writeup:navigate'

export function navigate(path: string, { replace = false } = {}): void {
  if (path === location.pathname) return
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  window.dispatchEvent(new Event(CHANGE))
}

function subscribe(callback: () => void): () => void {
  window.addEventListener('popstate', callback)
  window.addEventListener(CHANGE, callback)
  return () => {
    window.removeEventListener('popstate', callback)
    window.removeEventListener(CHANGE, callback)
  }
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => location.pathname)
}
