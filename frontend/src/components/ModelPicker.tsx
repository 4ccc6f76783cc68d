import type { ModelInfo } from '../api/models'

interface Props {
  models: ModelInfo[]
  value: string | null
  onChange: (route: string) => void
  error: string | null
}

/** Models grouped by genre; unavailable ones are listed but disabled, with the reason. */
export function ModelPicker({ models, value, onChange, error }: Props) {
  const genres = [...new Set(models.map((m) => m.genre))]
  const selected = models.find((m) => m.route === value)
  const title = selected
    ? `${selected.name} (${selected.genre}): ${selected.available ? selected.description : selected.reason}`
    : (error ?? 'Loading models…')
  return (
    <label className="model-picker" title={title}>
      <span className="visually-hidden">Model and genre</span>
      <select
        data-testid="model-picker"
        value={value ?? ''}
        onChange={(e) => onChange(e.target.value)}
        disabled={models.length === 0}
        aria-describedby={selected && !selected.available ? 'model-unavailable' : undefined}
      >
        {models.length === 0 && <option value="">{error ? 'No models' : 'Loading models…'}</option>}
        {genres.map((genre) => (
          <optgroup key={genre} label={genre}>
            {models
              .filter((m) => m.genre === genre)
              .map((m) => (
                <option
                  key={m.route}
                  value={m.route}
                  disabled={!m.available}
                  title={m.available ? m.description : `Unavailable: ${m.reason}`}
                  data-testid={`model-option-${m.route}`}
                >
                  {m.name}
                  {m.available ? '' : ' (unavailable)'}
                </option>
              ))}
          </optgroup>
        ))}
      </select>
      {selected && !selected.available && (
        <span id="model-unavailable" className="visually-hidden">
          {selected.name} is unavailable: {selected.reason}
        </span>
      )}
    </label>
  )
}
