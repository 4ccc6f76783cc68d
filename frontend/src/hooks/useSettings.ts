import { useCallback, useState } from 'react'
import { loadSettings, saveSettings, type Settings } from '../settings/settings'

export function useSettings(): [Settings, (patch: Partial<Settings>) => void] {
  const [settings, setSettings] = useState(loadSettings)
  const update = useCallback((patch: Partial<Settings>) => {
    setSettings((old) => {
      const next = { ...old, ...patch }
      saveSettings(next)
      return next
    })
  }, [])
  return [settings, update]
}
