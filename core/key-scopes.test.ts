import { describe, expect, it } from 'vitest'
import { ingestScopeFields, isReservedEventId, keyAllowsType, originOf } from './key-scopes.ts'

describe('ingest key scopes', () => {
  it.each([
    [{}, 'page.view', true],
    [{}, 'session.login_failed', false],
    [{}, 'privacy.export', false],
    [{ ingest_profile: 'browser' as const }, 'abuse.report', true],
    [{ ingest_profile: 'server' as const }, 'session.login_failed', true],
    [{ ingest_profile: 'server' as const }, 'admin.role_changed', true],
    [{ ingest_profile: 'server' as const, event_types: ['job.*'] }, 'job.start', true],
    [{ ingest_profile: 'server' as const, event_types: ['job.*'] }, 'message.send', false],
    [{ ingest_profile: 'browser' as const, event_types: ['page.*'] }, 'feature.use', false],
    // an allow-list never widens a browser key
    [{ ingest_profile: 'browser' as const, event_types: ['session.*'] }, 'session.login', false],
  ])('%j allows %s: %s', (scope, type, expected) => {
    expect(keyAllowsType(scope, type)).toBe(expected)
  })
  it('validates new scopes', () => {
    expect(ingestScopeFields('ingest', undefined)).toEqual({ ingest_profile: 'browser' })
    expect(() => ingestScopeFields('ingest', { profile: 'root' as never })).toThrow(/browser or server/)
    expect(() => ingestScopeFields('ingest', { eventTypes: ['Page View'] })).toThrow(/event types/)
    expect(() => ingestScopeFields('api', { profile: 'server' })).toThrow(/ingest keys only/)
  })
  it.each([
    ['privacy-export-0b8f6a1e', true],
    ['spor-x', true],
    ['SPOR_x', true],
    ['privacyfan', false],
    ['e-1', false],
  ])('reserved id %s: %s', (id, expected) => {
    expect(isReservedEventId(id)).toBe(expected)
  })
  it('reads the origin header, ignoring anything but the two values', () => {
    expect(originOf({ 'spor-origin': Buffer.from('client') })).toBe('client')
    expect(originOf({ 'spor-origin': 'server' })).toBe('server')
    expect(originOf({ 'spor-origin': 'root' })).toBeUndefined()
    expect(originOf(undefined)).toBeUndefined()
  })
})
