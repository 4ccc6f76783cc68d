/** The next word of `text`, with the whitespace before it (what Ctrl+Right accepts). */
export function nextWord(text: string): string {
  const match = /^\s*\S+/.exec(text)
  return match ? match[0] : text
}

/**
 * Models continue "end." with " The"; after a space, newline or nothing at all
 * that leading space would double up, so it is dropped.
 */
export function trimLeadingSpace(prompt: string, first: string): string {
  return prompt === '' || /\s$/.test(prompt) ? first.replace(/^[ \t]+/, '') : first
}
