import { promisify } from 'node:util'
import zlib from 'node:zlib'
import type { Logger } from 'pino'
import { Pool, type Dispatcher } from 'undici'
import { errorMessage } from '../src/errors.js'
import { bool, filePath, integer, oneOf, type OptionKind } from '../src/options/kinds.js'
import type { AnySpec, OptionFile, Options, OptionValues } from '../src/options/schema.js'
import type { ContainerMeta, LogRecord } from '../src/record.js'
import { httpUrl, invalidOptionFile, missingOption, readCaFile, retryAfterMs } from './options.js'
import { RecordBodyWriter } from './record-json.js'
import { SharedClients } from './shared-clients.js'
import type { Outcome, Sink, SinkDefinition } from './sink.js'

// `--log-opt sink=http`: batches of records sent to any endpoint over a keep-alive undici Pool,
// one per distinct target and shared by every container that uses it. One send() is one
// request; a 413 says so to the engine, which sends the batch again in halves. There is no retry
// interceptor: the engine owns retries (a second retry layer would multiply delays and
// duplicates).

const FORMATS = ['ndjson', 'json-array', 'raw'] as const
export type Format = typeof FORMATS[number]

const CONTENT_TYPES: Record<Format, string> = {
  'ndjson': 'application/x-ndjson',
  'json-array': 'application/json',
  'raw': 'text/plain; charset=utf-8',
}

// The sink sets these itself (framing, compression, connection management); letting a user
// override them would make the request lie about its own body.
const RESERVED_HEADERS = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'connection',
  'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'host'])

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// Visible ASCII, space, tab and obs-text: a CR or LF would split the request (header injection),
// and undici would throw at send time, long after StartLogging could have said so.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

const EXCERPT_CHARS = 160
// A response body is read to its end so the connection can be reused, but no further than this:
// past it the connection is given up instead.
const RESPONSE_READ_CAP = 1024 * 1024

type HeaderPair = readonly [name: string, value: string]

// Parses `Name: value` items. Messages name the item and header but never repeat a value: values
// are where tokens live.
function parseHeaderPairs (items: readonly string[], where: (index: number) => string): HeaderPair[] {
  const pairs: HeaderPair[] = []
  const seen = new Set<string>()
  items.forEach((item, index) => {
    const colon = item.indexOf(':')
    const name = item.slice(0, Math.max(colon, 0)).trim()
    if (colon < 0 || !HEADER_NAME.test(name)) {
      throw new Error(`${where(index)} is not a "Name: value" pair${colon < 0 ? ' (no colon)' : ' (the name is not a valid header name)'}`)
    }
    const value = item.slice(colon + 1).trim()
    const lower = name.toLowerCase()
    if (!HEADER_VALUE.test(value)) throw new Error(`the value of header ${name} (${where(index)}) contains a character a header cannot carry (a control character, or one beyond Latin-1)`)
    if (RESERVED_HEADERS.has(lower)) throw new Error(`header ${name} (${where(index)}) is set by the sink itself`)
    if (seen.has(lower)) throw new Error(`header ${name} is given twice`)
    seen.add(lower)
    pairs.push([name, value])
  })
  return pairs
}

function inlineHeaderItems (raw: string): string[] {
  return raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
}

const headerList: OptionKind<string> = {
  accepts: 'comma-separated "Name: value" pairs, e.g. "X-Tenant: blue,X-Env: prod" (values with commas, and secrets, go in http-headers-file)',
  parse: (raw) => {
    parseHeaderPairs(inlineHeaderItems(raw), (i) => `item ${i + 1}`)
    return raw
  },
}

export const httpOptions = {
  url: { name: 'http-url', kind: httpUrl, description: 'Where batches are sent, e.g. https://logs.example.com/ingest. Required with sink=http.' },
  method: { name: 'http-method', kind: oneOf(['POST', 'PUT', 'PATCH']), default: 'POST', description: 'The request method.' },
  format: { name: 'http-format', kind: oneOf(FORMATS), default: 'ndjson', description: 'The body: ndjson (one JSON record per line), json-array (one JSON array of records) or raw (the lines\' bytes alone, each ended by a newline).' },
  gzip: { name: 'http-gzip', kind: bool, default: 'false', description: 'Compress bodies with gzip (Content-Encoding: gzip).' },
  headers: { name: 'http-headers', kind: headerList, default: '', sensitive: true, description: 'Extra request headers as comma-separated "Name: value" pairs. Content-Type may be overridden; framing headers may not.' },
  headersFile: { name: 'http-headers-file', kind: filePath('a file of "Name: value" lines'), description: 'A file of extra headers, one "Name: value" per line (# comments and blank lines ignored), read at container start: the place for credentials such as Authorization.' },
  tlsCaFile: { name: 'http-tls-ca-file', kind: filePath('a PEM file of CA certificates'), description: 'A PEM file of CA certificates that replaces the system trust store for https URLs.' },
  tlsVerify: { name: 'http-tls-verify', kind: bool, default: 'true', description: 'Verify the server\'s certificate and name. Turning it off exposes the connection to anyone on the path.' },
  timeoutMs: { name: 'http-timeout-ms', kind: integer(100, 3_600_000), default: '30000', description: 'The most one request may take, from connecting to the last byte of the response; past it the batch is retried.' },
} satisfies Record<string, AnySpec>

type HttpOptions = OptionValues<typeof httpOptions>

interface HttpTarget {
  readonly origin: string
  readonly path: string
  readonly method: Dispatcher.HttpMethod
  readonly format: Format
  readonly gzip: boolean
  readonly headers: Readonly<Record<string, string>>
  // Header values to scrub from response excerpts: a server that echoes the request back must
  // not put a token into the plugin's log.
  readonly secrets: readonly string[]
  readonly ca: Buffer | undefined
  readonly verify: boolean
  readonly timeoutMs: number
}

function headersFromFile (file: OptionFile): HeaderPair[] {
  const items: { item: string, line: number }[] = []
  file.text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim()
    if (trimmed !== '' && !trimmed.startsWith('#')) items.push({ item: trimmed, line: i + 1 })
  })
  try {
    return parseHeaderPairs(items.map((i) => i.item), (i) => `line ${items[i]?.line ?? '?'}`)
  } catch (err) {
    throw invalidOptionFile(file, errorMessage(err), 'a file of "Name: value" lines')
  }
}

// Everything a container's options say about its target, checked without network I/O.
function httpTarget (o: HttpOptions, options: Options): HttpTarget {
  if (o.url === undefined) throw missingOption('http-url', 'with sink=http', 'an http:// or https:// URL')
  const target = new URL(o.url)
  const pairs = parseHeaderPairs(inlineHeaderItems(o.headers), (i) => `item ${i + 1}`)
  const headersFile = options.file(httpOptions.headersFile)
  if (headersFile !== undefined) {
    for (const pair of headersFromFile(headersFile)) {
      if (pairs.some(([n]) => n.toLowerCase() === pair[0].toLowerCase())) {
        throw invalidOptionFile(headersFile, `header ${pair[0]} is also given in http-headers`, 'each header named once')
      }
      pairs.push(pair)
    }
  }
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPES[o.format], 'user-agent': 'logrelay' }
  if (o.gzip) headers['content-encoding'] = 'gzip'
  for (const [name, value] of pairs) headers[name.toLowerCase()] = value
  const ca = readCaFile(options.file(httpOptions.tlsCaFile))
  return {
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: o.method,
    format: o.format,
    gzip: o.gzip,
    headers,
    secrets: pairs.map(([, v]) => v).filter((v) => v.length >= 4),
    ca: ca === undefined ? undefined : Buffer.from(ca),
    verify: o.tlsVerify,
    timeoutMs: o.timeoutMs,
  }
}

const NEWLINE = Buffer.from('\n')

function jsonBody (batch: readonly LogRecord[], array: boolean): Buffer {
  const body = new RecordBodyWriter(batch, 1)
  if (array) body.byte(0x5b)
  for (let i = 0; i < batch.length; i++) {
    if (array && i > 0) body.byte(0x2c)
    body.record(batch[i] as LogRecord)
    if (!array) body.byte(0x0a)
  }
  if (array) body.byte(0x5d)
  return body.finish()
}

export function encodeBody (batch: readonly LogRecord[], format: Format): Buffer {
  if (format === 'raw') {
    const parts: Buffer[] = []
    for (const record of batch) parts.push(record.line, NEWLINE)
    return Buffer.concat(parts)
  }
  return jsonBody(batch, format === 'json-array')
}

const gzip = promisify(zlib.gzip)

// Reads a response body to its end (so the connection goes back to the pool) and keeps its
// start for a drop reason. Once the status is in, it decides the outcome: a body cut short
// (timeout, reset) must not turn a 2xx into a retry and a duplicate.
async function readExcerpt (body: AsyncIterable<Buffer> & { destroy: () => void }): Promise<string> {
  const head: Buffer[] = []
  let kept = 0
  let read = 0
  try {
    for await (const chunk of body) {
      if (kept < EXCERPT_CHARS * 4) {
        head.push(chunk)
        kept += chunk.length
      }
      read += chunk.length
      if (read > RESPONSE_READ_CAP) break
    }
  } catch {
    // The connection is gone already; undici will not reuse it.
  }
  body.destroy()
  return Buffer.concat(head).toString('utf8')
}

class RequestTimeout extends Error {
  constructor (ms: number) {
    super(`no complete response within ${ms} ms (http-timeout-ms)`)
    this.name = 'RequestTimeout'
  }
}

// The response as classify() needs it: only what decides the outcome and explains a drop.
interface Attempt {
  readonly status?: number
  readonly retryAfter?: string | undefined
  readonly excerpt?: string
  readonly error?: unknown
}

class HttpSink implements Sink {
  readonly name = 'http'
  readonly #target: HttpTarget
  readonly #pool: Pool
  readonly #release: () => Promise<void>

  constructor (target: HttpTarget, pool: Pool, release: () => Promise<void>) {
    this.#target = target
    this.#pool = pool
    this.#release = release
  }

  async send (batch: readonly LogRecord[], signal: AbortSignal): Promise<Outcome> {
    return classify(await this.#attempt(batch, signal), this.#target)
  }

  async #attempt (batch: readonly LogRecord[], signal: AbortSignal): Promise<Attempt> {
    const target = this.#target
    const deadline = new AbortController()
    const onAbort = (): void => deadline.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => deadline.abort(new RequestTimeout(target.timeoutMs)), target.timeoutMs)
    try {
      const plain = encodeBody(batch, target.format)
      const body = target.gzip ? await gzip(plain) : plain
      const response = await this.#pool.request({
        path: target.path,
        method: target.method,
        headers: target.headers,
        body,
        signal: deadline.signal,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
      })
      const excerpt = await readExcerpt(response.body)
      const retryAfter = response.headers['retry-after']
      return { status: response.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, excerpt }
    } catch (err) {
      return { error: deadline.signal.aborted && deadline.signal.reason !== undefined ? deadline.signal.reason : err }
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  async close (): Promise<void> {
    await this.#release()
  }
}

function poolFor (target: HttpTarget): Pool {
  return new Pool(target.origin, {
    connect: {
      ...(target.ca === undefined ? {} : { ca: target.ca }),
      rejectUnauthorized: target.verify,
    },
  })
}

const pools = new SharedClients<Pool>(async (pool) => await pool.close())

export const httpSink: SinkDefinition = {
  name: 'http',
  prefix: 'http',
  options: Object.values(httpOptions),
  // 1,000 records or 1 MiB a request, sent after at most 1 s: batching gives most of the
  // throughput by a few hundred records (the Splunk driver went 10x at 1,000). One request in
  // flight per container keeps its lines in order at the endpoint.
  batchDefaults: { maxRecords: 1000, maxBytes: '1m', timeoutMs: 1000, concurrency: 1 },
  open: (options: Options, container: ContainerMeta, log: Logger): Sink => {
    const o = options.read(httpOptions)
    const target = httpTarget(o, options)
    const key = JSON.stringify([target.origin, o.tlsCaFile ?? '', target.verify])
    const { client, release } = pools.acquire(key, () => poolFor(target))
    if (!target.verify && target.origin.startsWith('https:')) {
      log.warn({ sink: 'http', container: container.id, origin: target.origin }, 'TLS certificate verification is off (http-tls-verify=false)')
    }
    return new HttpSink(target, client, release)
  },
  closeAll: async () => await pools.closeAll(),
}

function scrub (excerpt: string, secrets: readonly string[]): string {
  let out = excerpt
  for (const secret of secrets) out = out.split(secret).join('[redacted]')
  out = out.replace(/\s+/g, ' ').trim()
  return out.length > EXCERPT_CHARS ? `${out.slice(0, EXCERPT_CHARS)}…` : out
}

function errorCode (err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

// A TLS failure is retried like any connection failure (the server may be mid-rotation), but it
// rarely fixes itself, so the logged reason says what to change.
function tlsHint (code: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return ' (the host in http-url is not a name on the server\'s certificate)'
  if (/CERT|SIGNATURE/.test(code)) return ' (give the server\'s CA with http-tls-ca-file)'
  return ''
}

// undici refuses these before anything is sent, and would refuse the same batch again.
const UNSENDABLE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'])

// The one place an HTTP result becomes an outcome. 2xx delivered; 408, 429 and 5xx retried,
// honouring Retry-After; other statuses are final for this batch (sending it again gets the
// same answer) and dropped with the status and the start of the body. Connection errors and
// timeouts are retried: the server may never have seen the batch.
function classify (attempt: Attempt, target: HttpTarget): Outcome {
  const { status } = attempt
  if (status === undefined) {
    const err = attempt.error
    if (err instanceof RequestTimeout) return { retry: err.message }
    const code = errorCode(err)
    if (code === undefined) return { retry: errorMessage(err) }
    if (UNSENDABLE.has(code)) return { drop: `request cannot be sent: ${code}: ${errorMessage(err)}` }
    return { retry: `${code}: ${errorMessage(err)}${tlsHint(code)}` }
  }
  if (status >= 200 && status < 300) return { ok: true }
  const excerpt = scrub(attempt.excerpt ?? '', target.secrets)
  const reason = `HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}`
  if (status === 408 || status === 429 || status >= 500) {
    const afterMs = retryAfterMs(attempt.retryAfter, Date.now())
    return afterMs === undefined ? { retry: reason } : { retry: `${reason} (Retry-After: ${afterMs} ms)`, afterMs }
  }
  if (status === 413) return { tooLarge: reason }
  if (status >= 300 && status < 400) return { drop: `HTTP ${status} (redirects are not followed: set http-url to the final address)` }
  return { drop: reason }
}
