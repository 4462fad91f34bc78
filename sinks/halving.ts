import type { LogRecord } from '../src/record.js'
import type { Outcome } from './sink.js'

// A request too large for the endpoint (HTTP 413) says nothing about its records: the batch is
// sent again in halves, in order, halving again as needed, all within one send(). Only a record
// too large by itself is dropped. A half that has to wait for a retry holds back the rest, so
// a container's lines still arrive in order.

export interface SentPart {
  readonly outcome: Outcome
  readonly tooLarge: boolean
}

type PartialResult = Extract<Outcome, { partial: unknown }>['partial']

function asPartial (outcome: Outcome, count: number, offset: number): PartialResult {
  const all = Array.from({ length: count }, (_, i) => i + offset)
  if ('ok' in outcome) return { retry: [], dropped: [] }
  if ('drop' in outcome) return { retry: [], dropped: all.map((index) => ({ index, reason: outcome.drop })) }
  if ('retry' in outcome) return { retry: all, dropped: [] }
  return {
    retry: outcome.partial.retry.map((i) => i + offset),
    dropped: outcome.partial.dropped.map((d) => ({ index: d.index + offset, reason: d.reason })),
  }
}

export async function sendHalving (batch: readonly LogRecord[], attempt: (batch: readonly LogRecord[]) => Promise<SentPart>): Promise<Outcome> {
  const { outcome, tooLarge } = await attempt(batch)
  if (!tooLarge || batch.length < 2) return outcome
  const half = Math.ceil(batch.length / 2)
  const first = await sendHalving(batch.slice(0, half), attempt)
  // Nothing was delivered: the runner retries the whole batch (and Retry-After still applies).
  if ('retry' in first) return first
  const second: Outcome = 'partial' in first && first.partial.retry.length > 0
    ? { retry: 'not sent: an earlier part of the batch is waiting for a retry' }
    : await sendHalving(batch.slice(half), attempt)
  const a = asPartial(first, half, 0)
  const b = asPartial(second, batch.length - half, half)
  const partial = { retry: [...a.retry, ...b.retry], dropped: [...a.dropped, ...b.dropped] }
  return partial.retry.length === 0 && partial.dropped.length === 0 ? { ok: true } : { partial }
}
