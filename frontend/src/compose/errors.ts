/** Human sentences for the stable error codes of docs/protocol.md. */
const MESSAGES: Record<string, string> = {
  busy: 'The model is busy right now. Trying again in a moment.',
  model_unavailable: 'This model is not available right now. Pick another model or try again later.',
  rate_limited: 'Suggestions are coming too fast. Slowing down for a moment.',
  too_many_requests: 'Too many suggestions at once. Trying again in a moment.',
  over_quota: 'You have as many suggestions coming as you may at once (counting your other tabs). Trying again in a moment.',
  prompt_too_long: 'The text before the cursor is too long for this model.',
  timeout: 'The model took too long to answer. Keep typing to try again.',
  invalid_request: 'The suggestion settings were refused. Try resetting them in Settings.',
  invalid_json: 'The server could not read a message from this page. Reloading may help.',
  message_too_large: 'The text sent for a suggestion is too large.',
  unknown_type: 'The server did not understand a message from this page. Reloading may help.',
  duplicate_id: 'A suggestion request was sent twice; ignoring the copy.',
  unknown_model: 'This model is not known to the server. Pick another model.',
  forbidden: 'This page is not allowed to ask for suggestions. Reload it from the writeup site.',
  internal_error: 'Something went wrong on the server. Keep typing to try again.',
  offline: 'Not connected to the server, so no suggestions for now. Your text is kept.',
  connection_lost: 'The connection dropped while a suggestion was arriving.',
  sync_unavailable: 'Live updates from other tabs are off for now; saving still works.',
}

/** Errors about watching a document (they name it) rather than a suggestion. */
export function syncMessage(code: string): string {
  if (code === 'sync_unavailable') return humanMessage(code)
  return 'Live updates from other tabs are not available for this draft; saving still works.'
}

/** Codes worth one automatic retry: the server said "not now", not "no". */
export const TRANSIENT_CODES = new Set(['busy', 'rate_limited', 'too_many_requests', 'over_quota'])

/** Codes that need no message at all. */
export const SILENT_CODES = new Set(['unknown_request'])

export function humanMessage(code: string, serverMessage?: string | null): string {
  return MESSAGES[code] ?? serverMessage ?? `Suggestion failed (${code}).`
}
