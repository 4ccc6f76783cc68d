import { useCallback, useEffect, useRef, useState } from 'react'
import { listModels, type ModelInfo } from '../api/models'

/** Every 10 s the list is asked again, so a route that goes down or comes back
 * shows in the picker within seconds (the backend caches the model tier's
 * answer for ~5 s, so this costs the instances nothing). While a model is
 * down (usually restarting) the list is asked every 3 s instead, so the
 * writer gets it back as soon as it is. */
export const REFRESH_MS = 10000
export const REFRESH_WHILE_DOWN_MS = 3000

export function refreshDelay(models: ModelInfo[]): number {
  return models.some((m) => !m.available) ? REFRESH_WHILE_DOWN_MS : REFRESH_MS
}

/** The model list from the backend, refreshed so availability stays current. */
export function useModels(): {
  models: ModelInfo[]
  error: string | null
  loaded: boolean
  refresh: () => void
} {
  const [models, setModels] = useState<ModelInfo[]>([])
  const [error, setError] = useState<string | null>(null)
  const [loaded, setLoaded] = useState(false)
  // Bumped after every answer (or failure), which schedules the next one.
  const [answers, setAnswers] = useState(0)
  const alive = useRef(true)
  const load = useCallback(
    () =>
      listModels()
        .then((list) => {
          if (!alive.current) return
          setModels(list)
          setError(null)
        })
        .catch(() => alive.current && setError('Could not load the model list. Retrying…'))
        .finally(() => {
          if (!alive.current) return
          setLoaded(true)
          setAnswers((n) => n + 1)
        }),
    [],
  )
  useEffect(() => {
    alive.current = true
    void load()
    // A tab brought back to the front asks at once instead of showing a stale list.
    const onVisible = () => document.visibilityState === 'visible' && void load()
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      alive.current = false
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [load])
  useEffect(() => {
    const timer = setTimeout(
      () => document.visibilityState === 'visible' && void load(),
      error ? REFRESH_WHILE_DOWN_MS : refreshDelay(models),
    )
    return () => clearTimeout(timer)
  }, [answers, models, error, load])
  return { models, error, loaded, refresh: () => void load() }
}
