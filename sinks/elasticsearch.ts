import { createHash } from 'node:crypto'
import { Client, errors, type ClientOptions } from '@elastic/elasticsearch'
import type { Logger } from 'pino'
import { errorMessage, PluginError } from '../src/errors.js'
import { bool, filePath, integer, text } from '../src/options/kinds.js'
import type { AnySpec, Options, OptionValues } from '../src/options/schema.js'
import { timeNanoOf, type ContainerMeta, type LogRecord } from '../src/record.js'
import { conflictingOptions, httpUrlList, invalidOption, missingOption, readCaFile, readSecret, retryAfterMs } from './options.js'
import { RecordBodyWriter } from './record-json.js'
import { SharedClients } from './shared-clients.js'
import type { Outcome, Sink, SinkDefinition } from './sink.js'
import { compileTimeTemplate, datedTemplate, renderTemplate } from './templates.js'

// Elasticsearch through client.bulk: one request per batch (a 413 says so to the engine, which
// sends the batch again in halves). Not the client's bulk helper: it batches and retries on its own (fixed
// wait, no jitter) and gives up a whole request's documents when the request fails
// (models.md). Every document is written with op_type create and an _id derived from the line
// itself, so a retried batch can never index a line twice: Elasticsearch answers 409 for a line
// it already has, and that counts as delivered.

const DEFAULT_INDEX = 'logrelay-%Y.%m.%d'

const esOptions = {
  urls: { name: 'es-url', kind: httpUrlList, description: 'The Elasticsearch nodes, comma-separated; requests go round robin (no sniffing). Required with sink=elasticsearch. Credentials belong in es-api-key, es-username or es-bearer-token, not in the URL.' },
  index: { name: 'es-index', kind: datedTemplate, default: DEFAULT_INDEX, description: 'The index or data stream every line goes to: a template over the container (as for tag), with date parts from the line\'s own UTC time. Container values are lowercased and characters an index name cannot hold become -.' },
  pipeline: { name: 'es-pipeline', kind: text, description: 'An ingest pipeline every document goes through (the bulk request\'s pipeline parameter).' },
  apiKey: { name: 'es-api-key', kind: text, sensitive: true, description: 'An API key: the encoded value the create API key call returns, or id:api_key. Prefer es-api-key-file, since log-opts show in docker inspect.' },
  apiKeyFile: { name: 'es-api-key-file', kind: filePath('a file holding the API key'), description: 'A file holding the API key (surrounding whitespace ignored), read when the container starts.' },
  username: { name: 'es-username', kind: text, description: 'A user for basic authentication, with es-password or es-password-file.' },
  password: { name: 'es-password', kind: text, sensitive: true, description: 'The basic-authentication password. Prefer es-password-file.' },
  passwordFile: { name: 'es-password-file', kind: filePath('a file holding the password'), description: 'A file holding the basic-authentication password, read when the container starts.' },
  bearerToken: { name: 'es-bearer-token', kind: text, sensitive: true, description: 'A bearer token (a service account token, say). Prefer es-bearer-token-file.' },
  bearerTokenFile: { name: 'es-bearer-token-file', kind: filePath('a file holding the bearer token'), description: 'A file holding the bearer token, read when the container starts.' },
  tlsCaFile: { name: 'es-tls-ca-file', kind: filePath('a PEM file of CA certificates'), description: 'A PEM file of the certificate authorities to trust for https:// nodes, instead of the system\'s.' },
  tlsVerify: { name: 'es-tls-verify', kind: bool, default: 'true', description: 'Whether to verify the nodes\' certificates and host names. false is for tests only.' },
  requestTimeoutMs: { name: 'es-request-timeout-ms', kind: integer(1000, 3_600_000), default: '60000', description: 'How long one bulk request may take before it is given up and retried (the deterministic _id makes the retry safe).' },
} satisfies Record<string, AnySpec>

type EsOptions = OptionValues<typeof esOptions>

// Characters Elasticsearch refuses in an index name, and the longest name it takes
// (MetadataCreateIndexService.validateIndexOrAliasName).
const FORBIDDEN_IN_INDEX = /[\\/*?"<>| ,#:]/g
const MAX_INDEX_BYTES = 255

function escapeIndexValue (value: string): string {
  // A % from a container value (a label, say) is text, not a date part.
  return value.toLowerCase().replace(FORBIDDEN_IN_INDEX, '-').replace(/%/g, '%%')
}

function indexProblem (name: string): string | undefined {
  if (name === '') return 'it is empty'
  if (name !== name.toLowerCase()) return 'it must be lowercase'
  const forbidden = name.match(FORBIDDEN_IN_INDEX)
  if (forbidden !== null) return `it must not contain ${JSON.stringify(forbidden[0])}`
  if (/^[-_+]/.test(name)) return 'it must not start with -, _ or +'
  if (name === '.' || name === '..') return 'it must not be . or ..'
  if (Buffer.byteLength(name) > MAX_INDEX_BYTES) return `it must not be longer than ${MAX_INDEX_BYTES} bytes`
  return undefined
}

// The container's part is rendered once; the date part per record. The result is checked at
// StartLogging against today's date, so a name Elasticsearch would refuse fails `docker run`
// instead of having every line dropped later (dates only add digits, never bad characters).
export function compileIndex (template: string, container: ContainerMeta): (timeNano: bigint) => string {
  const rendered = renderTemplate(template, container, escapeIndexValue)
  const index = compileTimeTemplate(rendered)
  const sample = index(BigInt(Date.now()) * 1_000_000n)
  const problem = indexProblem(sample)
  if (problem !== undefined) {
    throw invalidOption('es-index', template, `it renders to "${sample}" for this container, and ${problem}`, 'an Elasticsearch index or data stream name')
  }
  return index
}

type Auth = NonNullable<ClientOptions['auth']>

function readAuth (o: EsOptions, options: Options): Auth | undefined {
  const apiKey = readSecret('es-api-key', o.apiKey, options.file(esOptions.apiKeyFile), 'an API key')
  const password = readSecret('es-password', o.password, options.file(esOptions.passwordFile), 'a password')
  const bearer = readSecret('es-bearer-token', o.bearerToken, options.file(esOptions.bearerTokenFile), 'a bearer token')
  const username = o.username
  const given = [apiKey !== undefined && 'es-api-key', (username !== undefined || password !== undefined) && 'es-username', bearer !== undefined && 'es-bearer-token']
    .filter((g): g is string => g !== false)
  if (given.length > 1) throw conflictingOptions(`${given.join(' and ')} are set together`, 'one way to authenticate')
  if (apiKey !== undefined) {
    // The header wants base64(id:api_key); the encoded form never holds a colon.
    return { apiKey: apiKey.includes(':') ? Buffer.from(apiKey).toString('base64') : apiKey }
  }
  if (bearer !== undefined) return { bearer }
  if (username === undefined && password === undefined) return undefined
  if (username === undefined || password === undefined) {
    throw conflictingOptions('es-username needs es-password or es-password-file, and they need es-username', 'both, or neither')
  }
  return { username, password }
}

interface Connection {
  readonly urls: readonly string[]
  readonly auth: Auth | undefined
  readonly ca: string | undefined
  readonly verify: boolean
  readonly timeoutMs: number
}

function digest (value: string): string {
  return createHash('sha256').update(value).digest('base64')
}

// Secrets take part in the key only as digests: the key lives as long as the client does.
function connectionKey (c: Connection): string {
  return JSON.stringify([c.urls, c.auth === undefined ? null : digest(JSON.stringify(c.auth)), c.ca === undefined ? null : digest(c.ca), c.verify, c.timeoutMs])
}

// Constructing a client opens nothing: connections are made by the first request.
function createClient (c: Connection): Client {
  return new Client({
    nodes: [...c.urls],
    auth: c.auth,
    tls: c.ca === undefined && c.verify ? undefined : { ca: c.ca, rejectUnauthorized: c.verify },
    // The runner is the one retry owner; sniffing would add requests nobody asked for.
    maxRetries: 0,
    requestTimeout: c.timeoutMs,
    sniffOnStart: false,
    sniffInterval: false,
    sniffOnConnectionFault: false,
    name: 'logrelay',
  })
}

const clients = new SharedClients<Client>(async (client) => await client.close())

// Only what classify() reads comes back: a 5,000-document batch otherwise returns every
// document's _index, _id, _version, _shards and _seq_no.
const FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by.type'

// The _id: 6 bytes of a digest of the container ID (base64url, 8 characters), then time_nano
// and the sequence with the stream, in base 36. The sequence is the line's place in the local
// store, so the _id is unique per line and the same on every retry, across a crash and a
// restart too; and ordered by time within a container, which keeps Lucene's id lookups cheap. Plain number
// formatting: a Buffer and base64 per line cost three times as much.
export function idPrefix (containerId: string): string {
  return createHash('sha256').update(containerId).digest().subarray(0, 6).toString('base64url')
}

export function documentId (prefix: string, record: LogRecord, timeNano: bigint): string {
  return `${prefix}${timeNano.toString(36)}-${(record.sequence * 2 + (record.stream === 'stderr' ? 1 : 0)).toString(36)}`
}

// The NDJSON bulk body, action line and document for each record, written into one Buffer. A
// batch bound for one index names it in the path rather than on every action line.
export function bulkBody (batch: readonly LogRecord[], idPrefix: string, indexOf: (timeNano: bigint) => string): { index: string | undefined, body: Buffer } {
  // One BigInt per record, for both the index and the _id.
  const times = batch.map((r) => timeNanoOf(r.time))
  const indexes = times.map((t) => indexOf(t))
  const single = indexes.every((i) => i === indexes[0]) ? indexes[0] : undefined
  const body = new RecordBodyWriter(batch, 64 + (single === undefined ? 300 : 0))
  for (let i = 0; i < batch.length; i++) {
    const record = batch[i] as LogRecord
    const id = documentId(idPrefix, record, times[i] as bigint)
    body.text(single === undefined ? `{"create":{"_index":"${indexes[i] ?? ''}","_id":"${id}"}}\n` : `{"create":{"_id":"${id}"}}\n`)
    body.record(record)
    body.byte(0x0a)
  }
  return { index: single, body: body.finish() }
}

export class ElasticsearchSink implements Sink {
  readonly name = 'elasticsearch'
  readonly #client: Client
  readonly #release: () => Promise<void>
  readonly #index: (timeNano: bigint) => string
  readonly #pipeline: string | undefined
  readonly #idPrefix: string

  constructor (client: Client, release: () => Promise<void>, index: (timeNano: bigint) => string, pipeline: string | undefined, containerId: string) {
    this.#client = client
    this.#release = release
    this.#index = index
    this.#pipeline = pipeline
    this.#idPrefix = idPrefix(containerId)
  }

  async send (batch: readonly LogRecord[], signal: AbortSignal): Promise<Outcome> {
    const { index, body } = bulkBody(batch, this.#idPrefix, this.#index)
    try {
      // The client sends a Buffer in operations as the body, as it is.
      const operations = body as unknown as string[]
      const response: unknown = await this.#client.bulk<string>({ index, operations, pipeline: this.#pipeline, filter_path: FILTER_PATH }, { signal })
      return classify({ response }, batch.length)
    } catch (error) {
      return classify({ error }, batch.length)
    }
  }

  async close (): Promise<void> {
    await this.#release()
  }
}

function open (options: Options, container: ContainerMeta, log: Logger): Sink {
  const o = options.read(esOptions)
  const index = compileIndex(o.index, container)
  if (o.urls === undefined || o.urls.length === 0) throw missingOption('es-url', 'with sink=elasticsearch', 'the nodes\' http:// or https:// URLs')
  const connection: Connection = {
    urls: o.urls,
    auth: readAuth(o, options),
    ca: readCaFile(options.file(esOptions.tlsCaFile)),
    verify: o.tlsVerify,
    timeoutMs: o.requestTimeoutMs,
  }
  let shared: { client: Client, release: () => Promise<void> }
  try {
    shared = clients.acquire(connectionKey(connection), () => createClient(connection))
  } catch (err) {
    throw new PluginError('LOGRELAY_ERR_OPT_INVALID', `the es-* log-opts do not make an Elasticsearch client: ${errorMessage(err)}`, { cause: err })
  }
  if (!connection.verify) log.warn({ container: container.id, sink: 'elasticsearch' }, 'es-tls-verify=false: the nodes\' certificates are not checked')
  return new ElasticsearchSink(shared.client, shared.release, index, o.pipeline, container.id)
}

export const elasticsearchSink: SinkDefinition = {
  name: 'elasticsearch',
  prefix: 'es',
  options: Object.values(esOptions),
  // Elastic's advice for bulk sizes starts at 1,000-5,000 documents and 5-15 MB (performance.md).
  batchDefaults: { maxRecords: 2000, maxBytes: '5m', timeoutMs: 1000, concurrency: 2 },
  open,
  closeAll: async () => await clients.closeAll(),
}

// ---- classify: every bulk result becomes an Outcome here, and only here ----

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Elasticsearch quotes field values and document IDs in some reasons ("Preview of field's
// value: '...'"): a line's contents must not reach the plugin's log, and a per-document ID
// would defeat the drop log's grouping by reason.
function scrubReason (reason: string): string {
  return reason
    .replace(/^\[\d+:\d+\]\s*/, '')
    .replace(/\s*in document with id '[^']*'/g, '')
    .replace(/\.?\s*(Preview of field's value|The prefix of the first immense term is)[\s\S]*$/, '')
    .replace(/^\[[^\]]*\]: version conflict/, 'version conflict')
    .slice(0, 300)
}

function describeError (status: number, error: unknown): string {
  if (!isRecord(error)) return `${status}`
  const type = typeof error['type'] === 'string' ? error['type'] : 'error'
  const reason = typeof error['reason'] === 'string' ? `: ${scrubReason(error['reason'])}` : ''
  const cause = isRecord(error['caused_by']) && typeof error['caused_by']['type'] === 'string' ? ` (caused by ${error['caused_by']['type']})` : ''
  return `${status} ${type}${reason}${cause}`
}

// Elasticsearch rarely sends Retry-After; proxies in front of it do.
function retryAfterOf (headers: Record<string, unknown> | undefined): number | undefined {
  const value = headers?.['retry-after']
  return typeof value === 'string' ? retryAfterMs(value, Date.now()) : undefined
}

function retryable (status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

function classifyRequestError (error: unknown): Outcome {
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0
    const body: unknown = error.body
    const what = describeError(status, isRecord(body) ? body['error'] : undefined)
    // 400 says this request can never be taken, and 413 that it is too large (the engine sends
    // it again in halves); anything else (401/403 for credentials, 404 behind a misrouting
    // proxy, 429, 5xx) is about the server or its setup, and the batch waits for it to be fixed.
    if (status === 413) return { tooLarge: `Elasticsearch refused the bulk request as too large (${what}): raise http.max_content_length on the node` }
    if (status === 400) return { drop: `Elasticsearch refused the bulk request (${what})` }
    return { retry: `Elasticsearch answered the bulk request with ${what}`, afterMs: retryable(status) ? retryAfterOf(error.headers) : undefined }
  }
  if (error instanceof errors.ElasticsearchClientError) return { retry: `${error.name}: ${error.message}` }
  return { retry: `bulk request failed: ${errorMessage(error)}` }
}

// Per item: 2xx is indexed and 409 was indexed by an earlier attempt (op_type create with the
// same _id); 429 and 5xx are the node's trouble and are retried; any other status is about the
// document itself (a mapping conflict, a failing pipeline) and drops it with the reason.
function classifyItems (response: Record<string, unknown>, count: number): Outcome {
  if (response['errors'] === false) return { ok: true }
  const items = response['items']
  if (!Array.isArray(items) || items.length !== count) {
    return { retry: `Elasticsearch answered a bulk of ${count} documents with ${Array.isArray(items) ? items.length : 'no'} results` }
  }
  const retry: number[] = []
  const dropped: { index: number, reason: string }[] = []
  items.forEach((item: unknown, index) => {
    const result = isRecord(item) ? Object.values(item)[0] : undefined
    const status = isRecord(result) && typeof result['status'] === 'number' ? result['status'] : 0
    if ((status >= 200 && status < 300) || status === 409) return
    if (status === 0 || retryable(status)) retry.push(index)
    else dropped.push({ index, reason: `rejected by Elasticsearch (${describeError(status, isRecord(result) ? result['error'] : undefined)})` })
  })
  if (retry.length === 0 && dropped.length === 0) return { ok: true }
  return { partial: { retry, dropped } }
}

export function classify (result: { response: unknown } | { error: unknown }, count: number): Outcome {
  if ('error' in result) return classifyRequestError(result.error)
  if (!isRecord(result.response)) return { retry: 'Elasticsearch answered the bulk request with no body' }
  return classifyItems(result.response, count)
}
