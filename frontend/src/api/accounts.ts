import { api, session, setCsrfToken, type Session } from './client'

export interface SignedIn extends Session {
  /** Anonymous drafts of this browser that moved into the account. */
  moved_drafts: number
}

export interface Account {
  username: string
  email: string
  date_joined: string
  drafts: number
  published: number
}

async function signedIn<T extends Session>(answer: Promise<T>): Promise<T> {
  const s = await answer
  // Django rotated the CSRF token; later writes on this page need the new one.
  setCsrfToken(s.csrf)
  return s
}

export const accounts = {
  session,
  signUp: (username: string, email: string, password: string) =>
    signedIn(api.post<SignedIn>('/api/auth/signup/', { username, email, password })),
  signIn: (login: string, password: string) => signedIn(api.post<SignedIn>('/api/auth/signin/', { login, password })),
  signOut: () => signedIn(api.post<Session>('/api/auth/signout/')),
  requestReset: (email: string) => api.post<{ message: string }>('/api/auth/password-reset/', { email }),
  confirmReset: (uid: string, token: string, password: string) =>
    signedIn(api.post<SignedIn>('/api/auth/password-reset/confirm/', { uid, token, password })),
  account: () => api.get<Account>('/api/account/'),
  deleteAccount: (password: string) => api.delete<null>('/api/account/', { password }),
}
