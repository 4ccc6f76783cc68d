import { describe, expect, it } from 'vitest'
import { nextPath, parseRoute, signInPath } from './routes'

describe('routes', () => {
  it('parses every page', () => {
    expect(parseRoute('/')).toEqual({ name: 'editor', id: null })
    expect(parseRoute('/d/5f0c1c2e-0000-4000-8000-000000000000')).toMatchObject({ name: 'editor' })
    expect(parseRoute('/s/abc_DEF-1')).toEqual({ name: 'shared', shareId: 'abc_DEF-1' })
    expect(parseRoute('/gallery')).toEqual({ name: 'gallery' })
    expect(parseRoute('/gallery/')).toEqual({ name: 'gallery' })
    expect(parseRoute('/signin')).toEqual({ name: 'signIn' })
    expect(parseRoute('/signup')).toEqual({ name: 'signUp' })
    expect(parseRoute('/reset')).toEqual({ name: 'reset' })
    expect(parseRoute('/reset/MQ/c4x-1234abcd')).toEqual({ name: 'resetConfirm', uid: 'MQ', token: 'c4x-1234abcd' })
    expect(parseRoute('/account')).toEqual({ name: 'account' })
    expect(parseRoute('/nothing')).toEqual({ name: 'notFound' })
  })

  it('comes back to the page after signing in, and only to this site', () => {
    expect(signInPath('signin', '/s/abc')).toBe('/signin?next=%2Fs%2Fabc')
    expect(signInPath('signup', '/')).toBe('/signup')
    expect(signInPath('signin', '/signup')).toBe('/signin')
    expect(nextPath('?next=%2Fgallery')).toBe('/gallery')
    expect(nextPath('?next=https%3A%2F%2Fevil.example')).toBe('/')
    expect(nextPath('?next=%2F%2Fevil.example')).toBe('/')
    expect(nextPath('')).toBe('/')
  })
})
