/**
 * The editor value as the API stores it: `body` is plain text, one line per
 * paragraph. Accepted-suggestion marks travel beside it as character spans.
 */
import type { Span } from '../api/spans'
import type { Paragraph, Value, WriteupText } from '../editor/schema'

/** Offsets into `toBody(value)` in UTF-16 units (JavaScript string offsets). */
export type SuggestedSpan = Span

export function toBody(value: Value): string {
  return value.map((p) => (p as Paragraph).children.map((t) => t.text).join('')).join('\n')
}

/** Where accepted suggestions sit in `toBody(value)`; adjacent runs of one model merge. */
export function suggestedSpans(value: Value): SuggestedSpan[] {
  const spans: SuggestedSpan[] = []
  let offset = 0
  value.forEach((p, i) => {
    if (i > 0) offset += 1
    for (const t of (p as Paragraph).children) {
      const end = offset + t.text.length
      if (t.suggested && t.text) {
        const last = spans[spans.length - 1]
        const model = t.model ?? null
        if (last && last.end === offset && last.model === model) last.end = end
        else spans.push({ start: offset, end, model })
      }
      offset = end
    }
  })
  return spans
}

export function fromBody(body: string, spans: SuggestedSpan[] = []): Value {
  let offset = 0
  return body.split('\n').map((line) => {
    const start = offset
    offset += line.length + 1
    return { type: 'paragraph', children: markLine(line, start, spans) } as Paragraph
  })
}

function markLine(line: string, lineStart: number, spans: SuggestedSpan[]): WriteupText[] {
  const lineEnd = lineStart + line.length
  const out: WriteupText[] = []
  let at = lineStart
  for (const span of spans) {
    const s = Math.max(span.start, lineStart)
    const e = Math.min(span.end, lineEnd)
    if (e <= s || s < at) continue
    if (s > at) out.push({ text: line.slice(at - lineStart, s - lineStart) })
    const text: WriteupText = { text: line.slice(s - lineStart, e - lineStart), suggested: true }
    if (span.model) text.model = span.model
    out.push(text)
    at = e
  }
  if (at < lineEnd || out.length === 0) out.push({ text: line.slice(at - lineStart) })
  return out
}

export const emptyValue = (): Value => [{ type: 'paragraph', children: [{ text: '' }] }]
