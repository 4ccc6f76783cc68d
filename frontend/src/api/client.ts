/**
 * JSON over fetch to the Django API: same-origin cookies, the CSRF token on
 * writes, and one error type whatever went wrong.
 */

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached at all. */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown = null,
  ) {
    super(message)
  }

  /** Worth retrying later: the network or the server, not the request. */
  get isTransient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429
  }
}

export interface SessionUser {
  username: string
  email: string
}

export interface Session {
  user: SessionUser | null
  csrf: string
}

let csrfToken: string | null = null
let sessionRequest: Promise<string | null> | null = null
let sessionAnswer: Promise<Session> | null = null

function cookieToken(): string | null {
  if (typeof document === 'undefined') return null
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie)
  return match ? decodeURIComponent(match[1]) : null
}

/** GET /api/session/: who is signed in, and the CSRF token. Asked once per page load. */
export function session(refresh = false): Promise<Session> {
  if (!sessionAnswer || refresh) {
    sessionAnswer = request<Session>('GET', '/api/session/')
    // A failed answer must not stick: the next caller asks again.
    sessionAnswer.catch(() => (sessionAnswer = null))
  }
  return sessionAnswer
}

/** POST /api/session/: start this browser's anonymous writer (its session
 * cookie) if it has none; a GET never creates one. Signed-in browsers skip it. */
export async function startSession(): Promise<Session> {
  const current = await session()
  if (current.user) return current
  return write<Session>('POST', '/api/session/', {})
}

/** The token every write sends; again from the server after a CSRF failure. */
async function csrf(refresh = false): Promise<string | null> {
  if (csrfToken && !refresh) return csrfToken
  if (!sessionRequest || refresh) {
    sessionRequest = session(refresh)
      .then((s) => s?.csrf ?? cookieToken())
      .catch(() => cookieToken())
  }
  csrfToken = await sessionRequest
  return csrfToken
}

/** Sign-in and sign-out rotate the token; the answer carries the new one. */
export function setCsrfToken(token: string): void {
  csrfToken = token
  sessionRequest = Promise.resolve(token)
}

export interface RequestOptions {
  /** Lets a save finish while the page unloads. */
  keepalive?: boolean
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
  accept = 'application/json',
): Promise<T> {
  const headers: Record<string, string> = { Accept: accept }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET' && method !== 'HEAD') {
    const token = await csrf()
    if (token) headers['X-CSRFToken'] = token
  }
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive: options.keepalive,
    })
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.')
  }
  if (response.status === 204) return null as T
  const text = await response.text()
  if (response.ok && accept !== 'application/json') return text as T
  let data: unknown = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (!response.ok) {
    const err = (data ?? {}) as { code?: string; message?: string; detail?: string }
    throw new ApiError(
      response.status,
      err.code ?? `http_${response.status}`,
      err.message ?? err.detail ?? `The server answered ${response.status}.`,
      data,
    )
  }
  return data as T
}

/** A write; a stale CSRF token (e.g. after a server restart) is refreshed once. */
async function write<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T> {
  try {
    return await request<T>(method, path, body, options)
  } catch (e) {
    if (e instanceof ApiError && e.status === 403 && /csrf/i.test(e.message + e.code)) {
      await csrf(true)
      return request<T>(method, path, body, options)
    }
    throw e
  }
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  /** A download's content as text (errors still come as ApiError). */
  text: (path: string) => request<string>('GET', path, undefined, {}, 'text/plain, text/markdown, application/json'),
  post: <T>(path: string, body?: unknown) => write<T>('POST', path, body ?? {}),
  patch: <T>(path: string, body: unknown, options?: RequestOptions) => write<T>('PATCH', path, body, options),
  delete: <T>(path: string, body?: unknown) => write<T>('DELETE', path, body),
}
