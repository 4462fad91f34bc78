import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseReadConfig, parseTime } from '../../src/protocol/requests.js'

test('parses RFC 3339 times with nanoseconds and any offset, exactly', () => {
  assert.equal(parseTime('2026-11-30T01:02:03.123456789Z', 'Since'), 1_796_000_523_123_456_789n)
  assert.equal(parseTime('2026-11-30T03:02:03.123456789+02:00', 'Since'), 1_796_000_523_123_456_789n)
  assert.equal(parseTime('2026-11-29T20:32:03.5-04:30', 'Since'), 1_796_000_523_500_000_000n)
  assert.equal(parseTime('1970-01-01T00:00:00Z', 'Since'), 0n)
})

test('treats Go\'s zero time and absent values as unset', () => {
  assert.equal(parseTime('0001-01-01T00:00:00Z', 'Since'), undefined)
  assert.equal(parseTime(undefined, 'Since'), undefined)
})

test('rejects a time that is not RFC 3339', () => {
  assert.throws(() => parseTime('yesterday', 'Until'), /Config.Until is not an RFC 3339 time/)
})

test('reads the daemon\'s Config: negative Tail means all, Follow defaults to false', () => {
  assert.deepEqual(parseReadConfig({ Since: '0001-01-01T00:00:00Z', Until: '0001-01-01T00:00:00Z', Tail: -5, Follow: false }),
    { since: undefined, until: undefined, tail: -5, follow: false })
  assert.equal(parseReadConfig(null).tail, -1)
})

test('reads years before 100 as themselves, not as 19xx', () => {
  assert.equal(parseTime('0099-12-31T23:59:59Z', 'Since'), -59_011_459_201n * 1_000_000_000n)
  assert.equal(parseTime('2000-02-29T00:00:00Z', 'Since'), 951_782_400_000_000_000n)
})

test('refuses fields out of range instead of rolling them into another date', () => {
  for (const bad of ['2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
    '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00-05:60']) {
    assert.throws(() => parseTime(bad, 'Since'), /Config.Since is not a valid date and time/, bad)
  }
})
