/**
 * Which part of the text before the cursor a request sends. The whole of it
 * up to the model's `max_prompt_chars`; past that, the start is cut at a
 * multiple of a large step, so it stays put while the writer types and the
 * model's prefix cache keeps matching (a cut that moved with every keystroke
 * made every request of a long draft a cold prefill). The microservice then
 * windows what it gets to the model's context, at stable token boundaries too.
 */
export const WINDOW_STEP = 50_000

export function promptWindow(text: string, maxChars?: number): string {
  if (maxChars === undefined || text.length <= maxChars) return text
  // Small limits (test models) step by a quarter of the limit instead, so at
  // least three quarters of it is always sent.
  const step = Math.max(1, Math.min(WINDOW_STEP, Math.floor(maxChars / 4)))
  let start = Math.ceil((text.length - maxChars) / step) * step
  // Never start on the second half of a surrogate pair: a lone half is not
  // text, and the server refuses it. (JS counts UTF-16 units, the server code
  // points, so a window within maxChars units is within the server's limit.)
  const unit = text.charCodeAt(start)
  if (unit >= 0xdc00 && unit <= 0xdfff) start += 1
  return text.slice(start)
}
