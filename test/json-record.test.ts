import assert from 'node:assert/strict'
import { test } from 'node:test'
import { rfc3339Nano } from '../src/json-record.js'

// rfc3339Nano reuses the date part of the previous call; a stale cache would stamp lines with
// the wrong second, and nothing downstream would notice.
test('rfc3339Nano is right across second, day and year boundaries, in any order', () => {
  const times = [
    1_767_225_599_999_999_999n, 1_767_225_600_000_000_000n, 1_767_225_600_000_000_001n,
    1_767_225_599_000_000_000n, 1_767_225_601_123_456_789n, 0n, 1_767_225_600_500_000_000n,
  ]
  for (const t of times) {
    const ms = Number(t / 1_000_000n)
    const expected = `${new Date(ms - (ms % 1000)).toISOString().slice(0, 19)}.${String(t % 1_000_000_000n).padStart(9, '0')}Z`
    assert.equal(rfc3339Nano(t), expected)
  }
  assert.equal(rfc3339Nano(1_767_225_599_999_999_999n), '2025-12-31T23:59:59.999999999Z')
  assert.equal(rfc3339Nano(1_767_225_600_000_000_001n), '2026-01-01T00:00:00.000000001Z')
})
