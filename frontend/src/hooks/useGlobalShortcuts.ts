import { useEffect, useRef } from 'react'

interface Handlers {
  onHelp: () => void
  onSave: () => void
}

/** Page-wide keys: help (Ctrl+/, or ? outside text fields) and Ctrl/Cmd+S. */
export function useGlobalShortcuts(handlers: Handlers): void {
  const ref = useRef(handlers)
  ref.current = handlers
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey
      const target = e.target as HTMLElement | null
      const typing = !!target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
      if ((mod && e.key === '/') || (e.key === '?' && !typing && !mod)) {
        e.preventDefault()
        ref.current.onHelp()
      } else if (mod && e.key.toLowerCase() === 's') {
        e.preventDefault()
        ref.current.onSave()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
