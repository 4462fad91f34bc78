import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { BoundedQueue } from '../../src/delivery/queue.js'

test('push says when the queue is full, counting what is in flight, and drain comes on release', async () => {
  const queue = new BoundedQueue<number>(3, 1000)
  assert.equal(queue.push(1, 10), true)
  assert.equal(queue.push(2, 10), true)
  assert.equal(queue.push(3, 10), false)
  const batch = queue.take(10, 1000)
  assert.deepEqual(batch.items, [1, 2, 3])
  // Taken but not delivered: still full, so a backend outage holds no more than the bound.
  assert.equal(queue.full, true)
  const drained = once(queue, 'drain')
  queue.release(batch.items.length, batch.bytes)
  await drained
  assert.equal(queue.full, false)
})

test('take cuts a batch at its record and byte limits, keeping at least one record', () => {
  const queue = new BoundedQueue<string>(100, 1e9)
  for (const s of ['a', 'b', 'c', 'd']) queue.push(s, 40)
  assert.deepEqual(queue.take(10, 100).items, ['a', 'b'])
  assert.deepEqual(queue.take(1, 100).items, ['c'])
  assert.deepEqual(queue.take(10, 10).items, ['d'])
})

test('waitFor wakes on a full batch, on the deadline once something is queued, and on close', async () => {
  const queue = new BoundedQueue<number>(100, 1e9)
  const full = queue.waitFor(3, 1e9, Date.now() + 60_000)
  queue.push(1, 1)
  queue.push(2, 1)
  queue.push(3, 1)
  await full
  queue.take(10, 1e9)

  const deadline = queue.waitFor(3, 1e9, Date.now() + 50)
  queue.push(4, 1)
  await deadline
  assert.equal(queue.length, 1)
  queue.take(10, 1e9)

  const closed = queue.waitFor(3, 1e9, Date.now() + 60_000)
  queue.close()
  await closed
  assert.equal(queue.closed, true)
})
