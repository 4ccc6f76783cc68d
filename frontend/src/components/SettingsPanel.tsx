import { useId } from 'react'
import { useEscape } from '../hooks/useEscape'
import { CREATIVITY_PRESETS, LENGTH_PRESETS, type Preset, type Settings } from '../settings/settings'
import { PopoverHead } from './PopoverHead'

interface Props {
  settings: Settings
  maxTokens: number
  maxN: number
  onChange: (patch: Partial<Settings>) => void
  onClose: () => void
}

export function SettingsPanel({ settings, maxTokens, maxN, onChange, onClose }: Props) {
  useEscape(onClose)
  return (
    <section className="popover settings-panel" aria-label="Suggestion settings" data-testid="settings-panel">
      <PopoverHead title="Suggestions" closeLabel="Close settings" onClose={onClose} />
      <PresetRow
        label="Length"
        presets={LENGTH_PRESETS}
        value={settings.maxTokens}
        onPick={(v) => onChange({ maxTokens: v })}
      />
      <Slider
        label="Tokens"
        min={1}
        max={maxTokens}
        step={1}
        value={Math.min(settings.maxTokens, maxTokens)}
        onChange={(v) => onChange({ maxTokens: v })}
      />
      <PresetRow
        label="Creativity"
        presets={CREATIVITY_PRESETS}
        value={settings.temperature}
        onPick={(v) => onChange({ temperature: v })}
      />
      <Slider
        label="Temperature"
        min={0}
        max={2}
        step={0.05}
        value={settings.temperature}
        onChange={(v) => onChange({ temperature: v })}
      />
      <Slider
        label="Alternatives"
        min={1}
        max={maxN}
        step={1}
        value={Math.min(settings.n, maxN)}
        onChange={(v) => onChange({ n: v })}
      />
      <Slider
        label="Pause before suggesting (ms)"
        min={100}
        max={2000}
        step={50}
        value={settings.debounceMs}
        onChange={(v) => onChange({ debounceMs: v })}
      />
      <label className="check">
        <input
          type="checkbox"
          checked={settings.autoSuggest}
          onChange={(e) => onChange({ autoSuggest: e.target.checked })}
        />
        Suggest while I write (off: only on Ctrl+Space)
      </label>
    </section>
  )
}

function PresetRow(props: { label: string; presets: Preset[]; value: number; onPick: (v: number) => void }) {
  return (
    <fieldset className="presets">
      <legend>{props.label}</legend>
      {props.presets.map((p) => (
        <button
          key={p.label}
          type="button"
          aria-pressed={Math.abs(props.value - p.value) < 1e-9}
          title={p.hint}
          onClick={() => props.onPick(p.value)}
        >
          {p.label}
        </button>
      ))}
    </fieldset>
  )
}

function Slider(props: {
  label: string
  min: number
  max: number
  step: number
  value: number
  onChange: (v: number) => void
}) {
  const id = useId()
  return (
    <div className="slider">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type="range"
        min={props.min}
        max={props.max}
        step={props.step}
        value={props.value}
        onChange={(e) => props.onChange(Number(e.target.value))}
      />
      <output htmlFor={id}>{props.value}</output>
    </div>
  )
}
