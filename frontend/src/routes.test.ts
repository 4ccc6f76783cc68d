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

  it('keeps a local next with its query and fragment', () => {
    expect(nextPath('?next=%2Fs%2Fabc%3Fx%3D1%23top', 'http://localhost')).toBe('/s/abc?x=1#top')
    expect(nextPath('?next=%2Fd%2F5f0c', 'http://localhost')).toBe('/d/5f0c')
  })

  it.each([
    '/%09/evil.example', // a tab, which the URL parser drops: //evil.example
    '/%0A/evil.example',
    '/%0D/evil.example',
    '//evil.example',
    '%2F%2Fevil.example',
    '/\\evil.example',
    '/%5Cevil.example',
    '%2F%5Cevil.example',
    '\\/evil.example',
    '/%09%2Fevil.example',
    '/.//evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '%20//evil.example',
    'evil.example',
  ])('refuses %s', (payload) => {
    const next = nextPath(`?next=${payload}`, 'http://localhost')
    expect(next).toBe('/')
  })
})
