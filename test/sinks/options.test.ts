import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { parseValue } from '../../src/options/schema.js'
import { httpUrl, httpUrlList, readCaFile, readSecret, retryAfterMs } from '../../sinks/options.js'

// The option kinds and file readers every sink shares.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-options-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('Retry-After takes seconds or an HTTP date, ignores anything else, and is capped', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(retryAfterMs('7', now), 7000)
  assert.equal(retryAfterMs(' 0 ', now), 0)
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000)
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now), 0)
  assert.equal(retryAfterMs('soon', now), undefined)
  assert.equal(retryAfterMs(undefined, now), undefined)
  assert.equal(retryAfterMs('86400', now), 300_000)
})

test('a URL with credentials is refused without echoing them; other schemes are refused too', () => {
  const spec = { name: 'http-url', kind: httpUrl, description: '' }
  assert.throws(() => parseValue(spec, 'https://user:hunter2@logs.example/x', 'log-opt', 'http-url'),
    (err: Error) => /invalid log-opt http-url="https:\/\/\[credentials not shown\]@logs.example\/x" \(credentials in the URL are not sent\)/.test(err.message) && !err.message.includes('hunter2'))
  assert.throws(() => httpUrl.parse('ftp://host/x'), /not http or https/)
  assert.throws(() => httpUrl.parse('not a url'), /not a URL/)
  assert.deepEqual(httpUrlList.parse('http://a:9200, https://b:9200'), ['http://a:9200', 'https://b:9200'])
  assert.throws(() => httpUrlList.parse('http://a:9200,http://u:p@b:9200'), /URL 2: credentials in the URL are not sent/)
})

test('a CA file must hold certificates, each of which parses', () => {
  const notPem = path.join(dir, 'not.pem')
  fs.writeFileSync(notPem, 'hello')
  assert.equal(readCaFile('x-tls-ca-file', undefined), undefined)
  assert.throws(() => readCaFile('x-tls-ca-file', notPem), /invalid log-opt x-tls-ca-file=".*not.pem" \(no PEM certificate in it\): expected a readable PEM file of CA certificates/)
  const broken = path.join(dir, 'broken.pem')
  fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
  assert.throws(() => readCaFile('x-tls-ca-file', broken), /invalid log-opt x-tls-ca-file=".*broken.pem"/)
  assert.throws(() => readCaFile('x-tls-ca-file', path.join(dir, 'absent.pem')), /cannot read log-opt x-tls-ca-file=".*absent.pem" \(ENOENT\)/)
})

test('a secret comes inline or from a file, never both, and an empty file is refused', () => {
  const file = path.join(dir, 'secret')
  fs.writeFileSync(file, '  s3cret\n')
  assert.equal(readSecret('x-password', 'inline', undefined, 'a password'), 'inline')
  assert.equal(readSecret('x-password', undefined, file, 'a password'), 's3cret')
  assert.equal(readSecret('x-password', undefined, undefined, 'a password'), undefined)
  assert.throws(() => readSecret('x-password', 'inline', file, 'a password'), /invalid log-opts x-password and x-password-file are both set: expected only one of them/)
  const empty = path.join(dir, 'empty')
  fs.writeFileSync(empty, '\n')
  assert.throws(() => readSecret('x-password', undefined, empty, 'a password'), /invalid log-opt x-password-file=".*empty" \(it is empty\)/)
})
