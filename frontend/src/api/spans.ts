/**
 * Spans of text a model wrote, on the wire. The API counts Unicode code
 * points (what Python and most languages call characters); the editor counts
 * UTF-16 units like every JavaScript string. Converting here, at the edge,
 * keeps the rest of the app in plain JavaScript offsets.
 */

export interface Span {
  start: number
  end: number
  model: string | null
}

/** The server refuses more than this many; a piece never needs them. */
export const MAX_SPANS = 10000
const ROUTE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Code point offset of every UTF-16 offset in `text` (length + 1 entries). */
function codePointIndex(text: string): Uint32Array {
  const index = new Uint32Array(text.length + 1)
  let points = 0
  for (let i = 0; i < text.length; i++) {
    index[i] = points
    const unit = text.charCodeAt(i)
    // A high surrogate followed by a low one is one code point.
    const pair = unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    if (pair) index[++i] = points
    points += 1
  }
  index[text.length] = points
  return index
}

/**
 * Editor spans (UTF-16) as the API wants them: code points, sorted, within
 * the body, not overlapping, at most MAX_SPANS, models that look like routes.
 * Anything else is dropped rather than sent, so a save is never refused
 * over a highlight.
 */
export function spansToApi(body: string, spans: Span[]): Span[] {
  const index = codePointIndex(body)
  const out: Span[] = []
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const start = index[Math.max(0, Math.min(span.start, body.length))]
    const end = index[Math.max(0, Math.min(span.end, body.length))]
    const from = Math.max(start, out.length ? out[out.length - 1].end : 0)
    if (end <= from) continue
    const model = span.model && ROUTE.test(span.model) ? span.model : null
    out.push({ start: from, end, model })
    if (out.length === MAX_SPANS) break
  }
  return out
}

/** API spans (code points) as editor offsets (UTF-16) into the same body. */
export function spansFromApi(body: string, spans: Span[] | undefined): Span[] {
  if (!spans?.length) return []
  const index = codePointIndex(body)
  const points = index[body.length]
  // UTF-16 offset of each code point offset.
  const utf16 = new Uint32Array(points + 1)
  for (let i = body.length; i >= 0; i--) utf16[index[i]] = i
  const out: Span[] = []
  for (const span of spans) {
    const start = Math.min(span.start, points)
    const end = Math.min(span.end, points)
    if (end > start) out.push({ start: utf16[start], end: utf16[end], model: span.model ?? null })
  }
  return out
}
