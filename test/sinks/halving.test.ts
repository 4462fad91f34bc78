import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sendHalving, type SentPart } from '../../sinks/halving.js'
import type { LogRecord } from '../../src/record.js'
import { containerMeta } from '../helpers/records.js'

// The HTTP and Elasticsearch sinks resend a batch refused as too large (413) in halves; the
// sinks' tests cover it against a real HTTP server, this covers the outcomes it can combine.

const meta = containerMeta()
const batch: LogRecord[] = Array.from({ length: 10 }, (_, i) => ({ stream: 'stdout', time: { hi: 0, lo: i }, line: Buffer.alloc(i === 6 ? 100 : 1), complete: true, sequence: i, container: meta }))

// An endpoint taking at most 3 records, or fewer than 100 bytes of lines; `answer` overrides it.
function endpoint (answer: (part: readonly LogRecord[]) => SentPart | undefined = () => undefined): { attempt: (part: readonly LogRecord[]) => Promise<SentPart>, delivered: number[] } {
  const delivered: number[] = []
  return {
    delivered,
    attempt: async (part) => {
      const given = answer(part)
      if (given !== undefined) return given
      const tooLarge = part.length > 3 || part.some((r) => r.line.length >= 100)
      if (tooLarge) return { outcome: { drop: 'HTTP 413' }, tooLarge: true }
      delivered.push(...part.map((r) => r.sequence))
      return { outcome: { ok: true }, tooLarge: false }
    },
  }
}

test('a batch too large is delivered in halves, in order; a record too large alone is dropped', async () => {
  const small = endpoint()
  assert.deepEqual(await sendHalving(batch.filter((r) => r.sequence !== 6), small.attempt), { ok: true })
  assert.deepEqual(small.delivered, [0, 1, 2, 3, 4, 5, 7, 8, 9])
  const withBig = endpoint()
  assert.deepEqual(await sendHalving(batch, withBig.attempt), { partial: { retry: [], dropped: [{ index: 6, reason: 'HTTP 413' }] } })
  assert.deepEqual(withBig.delivered, [0, 1, 2, 3, 4, 5, 7, 8, 9])
})

test('a part waiting for a retry holds back the rest, which is retried with it', async () => {
  const flaky = endpoint((part) => part.some((r) => r.sequence === 4) && part.length <= 3 ? { outcome: { retry: 'HTTP 503' }, tooLarge: false } : undefined)
  assert.deepEqual(await sendHalving(batch, flaky.attempt), { partial: { retry: [3, 4, 5, 6, 7, 8, 9], dropped: [] } })
  assert.deepEqual(flaky.delivered, [0, 1, 2])
  // A retry before anything was delivered keeps the whole batch's outcome, Retry-After included.
  const limited = endpoint((part) => part.length <= 3 ? { outcome: { retry: 'HTTP 429', afterMs: 2000 }, tooLarge: false } : undefined)
  assert.deepEqual(await sendHalving(batch, limited.attempt), { retry: 'HTTP 429', afterMs: 2000 })
})
