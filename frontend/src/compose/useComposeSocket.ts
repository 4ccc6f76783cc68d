import { useEffect, useState, useSyncExternalStore } from 'react'
import { startSession } from '../api/client'
import { ComposeSocket, composeUrl, type ConnectionStatus } from './socket'

/** One compose socket for the page, started while the editor is shown. */
export function useComposeSocket(): ComposeSocket {
  const [socket] = useState(() => new ComposeSocket(composeUrl(window.location)))
  useEffect(() => {
    let stopped = false
    // The server reads the socket's session cookie at the handshake. A first
    // visit has none until POST /api/session/ starts one; connecting before
    // that would leave the socket a stranger to the drafts this page
    // creates (no live sync for them).
    void startSession()
      .catch(() => null)
      .finally(() => stopped || socket.start())
    // Coming back online or to the tab is a good moment to skip the backoff wait.
    const retry = () => socket.retryNow()
    const onVisible = () => document.visibilityState === 'visible' && retry()
    window.addEventListener('online', retry)
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      window.removeEventListener('online', retry)
      document.removeEventListener('visibilitychange', onVisible)
      stopped = true
      socket.stop()
    }
  }, [socket])
  return socket
}

export function useConnectionStatus(socket: ComposeSocket): ConnectionStatus {
  return useSyncExternalStore(socket.onStatus, socket.getStatus)
}
