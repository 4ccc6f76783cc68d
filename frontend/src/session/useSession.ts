/** Who is signed in, for every page: one GET /api/session/ per page load. */
import { useEffect, useState } from 'react'
import { session, type SessionUser } from '../api/client'

export interface SessionState {
  /** False until the server answered (or could not be reached). */
  loaded: boolean
  user: SessionUser | null
}

export function useSession(): SessionState {
  const [state, setState] = useState<SessionState>({ loaded: false, user: null })
  useEffect(() => {
    let alive = true
    session()
      .then((s) => alive && setState({ loaded: true, user: s.user }))
      .catch(() => alive && setState({ loaded: true, user: null }))
    return () => {
      alive = false
    }
  }, [])
  return state
}

/**
 * After signing in, up or out the whole page starts over: the compose socket,
 * the CSRF token and every draft's owner changed, and a fresh load is the
 * one state that is right for all of them.
 */
export function startOver(path = '/'): void {
  location.assign(path)
}
