/** Client-side routes; Django answers every path with index.html. */
import { useSyncExternalStore } from 'react'

export type Route =
  | { name: 'editor'; id: string | null }
  | { name: 'shared'; shareId: string }
  | { name: 'gallery' }
  | { name: 'signIn' }
  | { name: 'signUp' }
  | { name: 'reset' }
  | { name: 'resetConfirm'; uid: string; token: string }
  | { name: 'account' }
  | { name: 'notFound' }

const FIXED: Record<string, Route> = {
  '/gallery': { name: 'gallery' },
  '/signin': { name: 'signIn' },
  '/signup': { name: 'signUp' },
  '/reset': { name: 'reset' },
  '/account': { name: 'account' },
}

export function parseRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { name: 'editor', id: null }
  const fixed = FIXED[pathname.replace(/\/$/, '')]
  if (fixed) return fixed
  const draft = /^\/d\/([0-9a-fA-F-]{8,64})\/?$/.exec(pathname)
  if (draft) return { name: 'editor', id: draft[1] }
  const shared = /^\/s\/([\w-]{1,128})\/?$/.exec(pathname)
  if (shared) return { name: 'shared', shareId: shared[1] }
  const reset = /^\/reset\/([\w-]{1,64})\/([\w-]{1,128})\/?$/.exec(pathname)
  if (reset) return { name: 'resetConfirm', uid: reset[1], token: reset[2] }
  return { name: 'notFound' }
}

/** Where to come back to after signing in: the page the writer was on. */
export function signInPath(kind: 'signin' | 'signup' = 'signin', next = location.pathname): string {
  return next && next !== '/' && !/^\/(signin|signup|reset)/.test(next)
    ? `/${kind}?next=${encodeURIComponent(next)}`
    : `/${kind}`
}

/** The `next` of a sign-in page, if it is a path on this site.
 *
 * Checked by parsing, not by prefix: the URL parser drops tabs and newlines
 * and reads a backslash as a slash, so `/<tab>/evil.example` or `/<backslash>evil.example`
 * look local to a prefix test but lead to another host once followed. */
export function nextPath(
  search = location.search,
  origin = typeof location === 'undefined' ? 'http://localhost' : location.origin,
): string {
  const next = new URLSearchParams(search).get('next')
  if (!next || !next.startsWith('/')) return '/'
  let url: URL
  try {
    url = new URL(next, origin)
  } catch {
    return '/'
  }
  if (url.origin !== origin) return '/'
  const path = url.pathname + url.search + url.hash
  // `/.//evil.example` parses as a local path that itself reads as a host.
  return path.startsWith('//') || path.startsWith('/\\') ? '/' : path
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
