import { useCallback, useState } from 'react'

const KEY = 'writeup:show-accepted'

/** Whether accepted suggestions are highlighted; remembered in this browser. */
export function useHighlight(): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(() => {
    try {
      return localStorage.getItem(KEY) === '1'
    } catch {
      return false
    }
  })
  const set = useCallback((next: boolean) => {
    setOn(next)
    try {
      localStorage.setItem(KEY, next ? '1' : '0')
    } catch {
      // Storage disabled: the choice lasts for this page only.
    }
  }, [])
  return [on, set]
}
