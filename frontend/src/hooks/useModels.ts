import { useEffect, useState } from 'react'
import { listModels, type ModelInfo } from '../api/models'

const REFRESH_MS = 30000

/** The model list from the backend, refreshed so availability stays current. */
export function useModels(): { models: ModelInfo[]; error: string | null; loaded: boolean } {
  const [models, setModels] = useState<ModelInfo[]>([])
  const [error, setError] = useState<string | null>(null)
  const [loaded, setLoaded] = useState(false)
  useEffect(() => {
    let alive = true
    const load = () =>
      listModels()
        .then((list) => {
          if (!alive) return
          setModels(list)
          setError(null)
        })
        .catch(() => alive && setError('Could not load the model list. Retrying…'))
        .finally(() => alive && setLoaded(true))
    void load()
    const timer = setInterval(() => document.visibilityState === 'visible' && void load(), REFRESH_MS)
    return () => {
      alive = false
      clearInterval(timer)
    }
  }, [])
  return { models, error, loaded }
}
