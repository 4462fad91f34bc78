import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { FILE_MAX_BYTES, filePath } from '../../src/options/kinds.js'
import { loadOptions, parseValue, type OptionFile, type Options } from '../../src/options/schema.js'
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
  const file = (text: string): OptionFile => ({ path: '/etc/x/ca.pem', text, setBy: 'log-opt x-tls-ca-file' })
  assert.equal(readCaFile(undefined), undefined)
  assert.throws(() => readCaFile(file('hello')), /invalid log-opt x-tls-ca-file="\/etc\/x\/ca.pem" \(no PEM certificate in it\): expected a readable PEM file of CA certificates/)
  assert.throws(() => readCaFile(file('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')), /invalid log-opt x-tls-ca-file="\/etc\/x\/ca.pem"/)
})

test('a secret comes inline or from a file, never both, and an empty file is refused', () => {
  const file = (text: string): OptionFile => ({ path: '/run/secrets/pw', text, setBy: 'plugin setting LOGRELAY_X_PASSWORD_FILE' })
  assert.equal(readSecret('x-password', 'inline', undefined, 'a password'), 'inline')
  assert.equal(readSecret('x-password', undefined, file('  s3cret\n'), 'a password'), 's3cret')
  assert.equal(readSecret('x-password', undefined, undefined, 'a password'), undefined)
  assert.throws(() => readSecret('x-password', 'inline', file('s3cret'), 'a password'), /invalid log-opts x-password and x-password-file are both set: expected only one of them/)
  assert.throws(() => readSecret('x-password', undefined, file('\n'), 'a password'), /invalid plugin setting LOGRELAY_X_PASSWORD_FILE="\/run\/secrets\/pw" \(it is empty\)/)
})

// Files named by options are read by loadOptions, bounded and without blocking the event loop.
const fileSpec = { name: 'x-ca-file', kind: filePath('a PEM file of CA certificates'), description: '' }

async function load (path: string): Promise<Options> {
  return await loadOptions([fileSpec], { 'x-ca-file': path }, new Map())
}

test('a file option is read at load, and an unset one reads nothing', async () => {
  const ca = path.join(dir, 'ca.pem')
  fs.writeFileSync(ca, 'pem text')
  assert.deepEqual((await load(ca)).file(fileSpec), { path: ca, text: 'pem text', setBy: 'log-opt x-ca-file' })
  assert.equal((await loadOptions([fileSpec], {}, new Map())).file(fileSpec), undefined)
  const exact = path.join(dir, 'exact')
  fs.writeFileSync(exact, Buffer.alloc(FILE_MAX_BYTES, 0x61))
  assert.equal((await load(exact)).file(fileSpec)?.text.length, FILE_MAX_BYTES)
})

// Regression: a FIFO hung the whole plugin until something opened it, and /dev/zero grew it to
// 4 GB. Each of these must fail at once, naming the option, what the path is and what is
// accepted, while the event loop keeps turning.
test('a FIFO, a device, a directory or a file over the bound is refused at once, naming the option', async () => {
  const fifo = path.join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const huge = path.join(dir, 'huge')
  fs.writeFileSync(huge, Buffer.alloc(FILE_MAX_BYTES + 1))
  const accepted = /: expected an absolute path to a PEM file of CA certificates the plugin can read \(a regular file of at most 1 MiB\)$/
  const cases: [string, RegExp][] = [
    [fifo, /\(a FIFO, not a regular file\)/],
    ['/dev/zero', /\(a character device, not a regular file\)/],
    ['/dev/urandom', /\(a character device, not a regular file\)/],
    [dir, /\(a directory, not a regular file\)/],
    [huge, /\(1048577 bytes, more than 1048576\)/],
    [path.join(dir, 'absent'), /\(ENOENT\)/],
  ]
  let ticks = 0
  const ticker = setInterval(() => { ticks++ }, 1)
  try {
    for (const [file, problem] of cases) {
      await assert.rejects(load(file), (err: Error) => {
        assert.match(err.message, new RegExp(`^cannot read log-opt x-ca-file=${JSON.stringify(file).replace(/[/.]/g, '\\$&')} `))
        assert.match(err.message, problem)
        assert.match(err.message, accepted)
        return true
      })
    }
  } finally {
    clearInterval(ticker)
  }
  assert.ok(ticks > 0, 'the event loop did not turn while the files were tried')
})

test('a file that says it is empty but is not (in /proc) is still read only up to the bound', async () => {
  // /proc/self/environ is a regular file whose size fstat reports as 0.
  const text = (await load('/proc/self/environ')).file(fileSpec)?.text ?? ''
  assert.ok(text.length > 0 && text.length <= FILE_MAX_BYTES)
})
