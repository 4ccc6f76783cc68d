import { useEffect, useState } from 'react'
import type { ConnectionStatus } from '../compose/socket'

/** Whether suggestions can flow right now, with a countdown while reconnecting. */
export function ConnectionIndicator({ status, onRetry }: { status: ConnectionStatus; onRetry: () => void }) {
  const now = useNow(status.state === 'waiting')
  let label = 'Connected'
  if (status.state === 'connecting') label = status.attempt ? 'Reconnecting…' : 'Connecting…'
  else if (status.state === 'waiting') {
    const seconds = Math.max(0, Math.ceil(((status.retryAt ?? now) - now) / 1000))
    label = `Offline, retrying in ${seconds} s`
  } else if (status.state === 'stopped') label = 'Disconnected'
  return (
    <span className={`connection connection-${status.state}`} data-testid="connection-indicator" data-state={status.state}>
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">{label}</span>
      {status.state === 'waiting' && (
        <button type="button" className="link-button" onClick={onRetry}>
          Retry now
        </button>
      )}
    </span>
  )
}

function useNow(ticking: boolean): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    if (!ticking) return
    setNow(Date.now())
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [ticking])
  return now
}
