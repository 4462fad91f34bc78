import { createHash } from 'node:crypto'
import tls from 'node:tls'
import kafkajs, { CompressionTypes, Kafka, logLevel, Partitioners, type ICustomPartitioner, type KafkaConfig, type Message, type Producer, type ProducerBatch, type SASLOptions } from 'kafkajs'
import createSnappyCodec from 'kafkajs-snappy'
import type { Logger } from 'pino'
import { errorMessage, PluginError } from '../src/errors.js'
import { bool, echo, filePath, integer, list, oneOf, size, text } from '../src/options/kinds.js'
import type { AnySpec, Options, OptionValues } from '../src/options/schema.js'
import { timeNanoOf, type ContainerMeta, type LogRecord, type TimeHalves } from '../src/record.js'
import { conflictingOptions, invalidOption, missingOption, readCaFile, readSecret } from './options.js'
import { RecordBodyWriter } from './record-json.js'
import { SharedClients } from './shared-clients.js'
import type { Outcome, Sink, SinkDefinition } from './sink.js'
import { containerTemplate, renderTemplate } from './templates.js'

// kafkajs ships gzip only; snappy comes from its author's pure-JS codec. LZ4 and zstd codecs
// need native builds (and Node 20's zlib has no zstd), so they are not offered. The codec table
// is reached through the default import: Node cannot see it as a named export of kafkajs's CJS.
kafkajs.CompressionCodecs[CompressionTypes.Snappy] = createSnappyCodec

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy } as const
const ACKS = { all: -1, 1: 1, 0: 0 } as const
const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const

// host:port with a port from 1 to 65535; the host a name, an IPv4 address or a bracketed IPv6.
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/
function isHostPort (value: string): boolean {
  const port = Number(HOST_PORT.exec(value)?.[2] ?? 0)
  return port >= 1 && port <= 65535
}
// Kafka's own rule (kafka.common.internals.Topic): 1 to 249 of these characters, not . or ..
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

export const kafkaOptions = {
  brokers: { name: 'kafka-brokers', kind: list({ accepts: 'host:port (a host name, an IPv4 address or a bracketed IPv6 one; port 1 to 65535)', check: isHostPort }), default: '', description: 'The brokers to bootstrap from, as host:port; required with sink=kafka.' },
  topic: { name: 'kafka-topic', kind: containerTemplate, default: 'docker-logs', description: 'The topic, a template over the container as for tag; it must render to a valid topic name or docker run fails.' },
  key: { name: 'kafka-key', kind: containerTemplate, default: '{{.FullID}}', description: 'The message key, a template as for kafka-topic. The container ID keeps each container\'s lines in order in one partition; empty sends no key, spreading lines over partitions.' },
  format: { name: 'kafka-format', kind: oneOf(['json', 'raw']), default: 'json', description: 'json writes the shared JSON record; raw writes the line\'s bytes alone.' },
  acks: { name: 'kafka-acks', kind: oneOf(['all', '1', '0']), default: 'all', description: 'Acknowledgements a write waits for: all in-sync replicas, 1 (the leader), or 0 (none, so a write the broker loses is never retried).' },
  compression: { name: 'kafka-compression', kind: oneOf(['none', 'gzip', 'snappy']), default: 'none', description: 'Compression of each request\'s records: none, gzip or snappy.' },
  clientId: { name: 'kafka-client-id', kind: text, default: 'logrelay', description: 'The client id the brokers see (quotas, request logs).' },
  tls: { name: 'kafka-tls', kind: bool, default: 'false', description: 'Connect with TLS; implied by kafka-tls-ca-file and kafka-tls-cert-file.' },
  tlsCaFile: { name: 'kafka-tls-ca-file', kind: filePath('a PEM file of CA certificates'), description: 'A PEM file of the CA certificates to trust instead of the system ones.' },
  tlsCertFile: { name: 'kafka-tls-cert-file', kind: filePath('a PEM client certificate'), description: 'A PEM client certificate for mutual TLS; needs kafka-tls-key-file.' },
  tlsKeyFile: { name: 'kafka-tls-key-file', kind: filePath('a PEM private key'), description: 'The PEM private key of kafka-tls-cert-file.' },
  tlsVerify: { name: 'kafka-tls-verify', kind: bool, default: 'true', description: 'Verify the brokers\' certificates and host names; false only for testing.' },
  saslMechanism: { name: 'kafka-sasl-mechanism', kind: oneOf(SASL_MECHANISMS), default: 'none', description: 'SASL authentication: none, plain, scram-sha-256 or scram-sha-512 (use TLS with plain).' },
  saslUsername: { name: 'kafka-sasl-username', kind: text, description: 'The SASL user name.' },
  saslPassword: { name: 'kafka-sasl-password', kind: text, sensitive: true, description: 'The SASL password. It shows in docker inspect: prefer kafka-sasl-password-file.' },
  saslPasswordFile: { name: 'kafka-sasl-password-file', kind: filePath('a file holding the SASL password'), description: 'A file holding the SASL password (surrounding whitespace ignored); read when the container starts.' },
  connectTimeoutMs: { name: 'kafka-connect-timeout-ms', kind: integer(100, 300_000), default: '10000', description: 'How long a connection to a broker (TLS and SASL included) may take.' },
  requestTimeoutMs: { name: 'kafka-request-timeout-ms', kind: integer(1000, 600_000), default: '30000', description: 'How long a request may wait for the broker\'s answer; also the broker\'s own wait for acks.' },
  messageMaxBytes: { name: 'kafka-message-max-bytes', kind: size(1024), default: '1000000', description: 'The most bytes of records in one request, under the broker\'s message.max.bytes; a batch that encodes larger is sent again in halves, in order.' },
} satisfies Record<string, AnySpec>

type KafkaOptions = OptionValues<typeof kafkaOptions>

function tlsOptions (o: KafkaOptions, options: Options): tls.ConnectionOptions | undefined {
  const ca = readCaFile(options.file(kafkaOptions.tlsCaFile))
  const certFile = options.file(kafkaOptions.tlsCertFile)
  const keyFile = options.file(kafkaOptions.tlsKeyFile)
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw conflictingOptions('kafka-tls-cert-file and kafka-tls-key-file', 'both (mutual TLS) or neither')
  }
  if (!o.tls && ca === undefined && certFile === undefined) return undefined
  const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: o.tlsVerify, ...(ca === undefined ? {} : { ca }) }
  if (certFile === undefined || keyFile === undefined) return tlsOptions
  const cert = certFile.text
  const key = keyFile.text
  // Loading them now fails `docker run` for a file that is not PEM or a key that does not match
  // its certificate, instead of a connection that fails later over and over. No network here.
  try {
    tls.createSecureContext({ cert, key })
  } catch (err) {
    throw new PluginError('LOGRELAY_ERR_OPT_FILE', `invalid ${certFile.setBy}=${echo(certFile.path)} / ${keyFile.setBy}=${echo(keyFile.path)} (${errorMessage(err)}): expected PEM, the key matching the certificate`)
  }
  return { ...tlsOptions, cert, key }
}

function saslOptions (o: KafkaOptions, options: Options): SASLOptions | undefined {
  const mechanism = o.saslMechanism
  if (mechanism === 'none') {
    if (o.saslUsername !== undefined || o.saslPassword !== undefined || o.saslPasswordFile !== undefined) {
      throw invalidOption('kafka-sasl-mechanism', 'none', 'SASL credentials are set', 'plain, scram-sha-256 or scram-sha-512 with them')
    }
    return undefined
  }
  if (o.saslUsername === undefined) throw missingOption('kafka-sasl-username', `with kafka-sasl-mechanism=${mechanism}`, 'the SASL user name')
  const password = readSecret('kafka-sasl-password', o.saslPassword, options.file(kafkaOptions.saslPasswordFile), 'the SASL password')
  if (password === undefined) {
    throw missingOption('kafka-sasl-password-file', `with kafka-sasl-mechanism=${mechanism}`, 'a file holding the SASL password (or kafka-sasl-password)')
  }
  return { mechanism, username: o.saslUsername, password }
}

interface Connection {
  // Identifies the producer to share: a hash, so the secrets in it are not kept in clear as keys.
  readonly id: string
  readonly config: KafkaConfig
}

function connectionOf (o: KafkaOptions, options: Options): Connection {
  if (o.brokers.length === 0) throw missingOption('kafka-brokers', 'with sink=kafka', 'a comma-separated list of host:port')
  const ssl = tlsOptions(o, options)
  const sasl = saslOptions(o, options)
  const config: KafkaConfig = {
    brokers: [...o.brokers],
    clientId: o.clientId,
    connectionTimeout: o.connectTimeoutMs,
    authenticationTimeout: o.connectTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
  }
  return { id: createHash('sha256').update(JSON.stringify(config)).digest('hex'), config }
}

// kafkajs logs each of its internal retries at error level, so an outage would flood the
// daemon's log; the runner already reports every failed attempt with its reason. Its own lines
// are kept for debug level, without their extra fields, which may carry connection details.
function kafkaLogOptions (log: Logger): Pick<KafkaConfig, 'logLevel' | 'logCreator'> {
  return {
    logLevel: log.isLevelEnabled('debug') ? logLevel.INFO : logLevel.NOTHING,
    logCreator: () => (entry) => log.debug({ kafkajs: entry.namespace, kafkajsLevel: entry.label }, entry.log.message),
  }
}

// kafkajs's default partitioner hashes every message's key (murmur2, in JavaScript: a tenth of
// the plugin's CPU in the Kafka benchmark's profile) and filters the partition list for each.
// A container's messages all carry its one key Buffer, so the partition is worked out once per
// key and partition count; it is the partition the default (and Java's) partitioner picks.
const keyCachingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner()
  const chosen = new WeakMap<Buffer, { readonly partitions: number, readonly partition: number }>()
  return (args) => {
    const { message, partitionMetadata } = args
    const key = message.key
    if (!Buffer.isBuffer(key) || (message.partition !== undefined && message.partition !== null)) return partitioner(args)
    const known = chosen.get(key)
    if (known?.partitions === partitionMetadata.length) return known.partition
    const partition = partitioner(args)
    chosen.set(key, { partitions: partitionMetadata.length, partition })
    return partition
  }
}

// One kafkajs producer, shared by every container with the same connection options. It
// connects on the first send, never at StartLogging, and again after a failed connect.
//
// Not idempotent: kafkajs's idempotent producer (experimental in 2.2.4) needs acks=all and one
// request in flight, and rolls a partition's sequence numbers back when a request fails. With
// many containers on one producer, another container's batch can take those numbers in
// between, and the broker then answers OUT_OF_ORDER_SEQUENCE_NUMBER, which kafkajs cannot
// recover from (it never bumps the epoch): the producer would be stuck for every container.
// Delivery is at least once instead; container.id and event.sequence in every JSON record
// identify a duplicate.
class LazyProducer {
  readonly #producer: Producer
  readonly #log: Logger
  readonly #brokers: string
  #connected: Promise<void> | undefined
  // The cause of the refusal last reported, until a send goes through again.
  #refused: string | undefined
  // Why the last send failed, until one goes through again (a leader moved, a broker is back).
  #failing: string | undefined

  constructor (config: KafkaConfig, log: Logger) {
    this.#log = log
    this.#brokers = (config.brokers as string[]).join(',')
    this.#producer = new Kafka({ ...config, ...kafkaLogOptions(log) }).producer({
      createPartitioner: keyCachingPartitioner,
      allowAutoTopicCreation: true,
      idempotent: false,
    })
  }

  async send (batch: ProducerBatch): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((err: unknown) => {
      this.#connected = undefined
      throw err
    })
    await this.#connected
    await this.#producer.sendBatch(batch)
    if (this.#refused !== undefined) {
      this.#refused = undefined
      this.#log.info({ sink: 'kafka', brokers: this.#brokers }, 'the Kafka brokers accept logrelay again; delivery resumes')
    } else if (this.#failing !== undefined) {
      this.#log.info({ sink: 'kafka', brokers: this.#brokers, after: this.#failing }, 'Kafka takes the records again (its brokers or partition leaders changed)')
    }
    this.#failing = undefined
  }

  failed (reason: string): void {
    this.#failing = reason
  }

  // Said once per cause, however many containers share this producer and however long it
  // lasts: the operator has one line to act on, not one per retry.
  refused ({ broker, cause }: Refusal): void {
    if (this.#refused === cause) return
    this.#refused = cause
    this.#log.error({ code: 'LOGRELAY_ERR_KAFKA_REFUSED', sink: 'kafka', broker: broker ?? this.#brokers, cause },
      `the Kafka broker ${broker ?? this.#brokers} refused logrelay (${cause}); retrying every ${REFUSED_RETRY_MS / 1000} s, the lines wait in the local store`)
  }

  async close (): Promise<void> {
    try {
      await this.#producer.disconnect()
    } catch (err) {
      this.#log.warn({ err, sink: 'kafka' }, 'closing a Kafka producer failed')
    }
  }
}

const producers = new SharedClients<LazyProducer>(async (producer) => await producer.close())

const ABORTED = Symbol('aborted')

// kafkajs takes no AbortSignal: at the end of the shutdown grace the answer is no longer
// awaited, so the runner can count what is left instead of holding the shutdown.
async function unlessAborted (work: Promise<void>, signal: AbortSignal): Promise<void | typeof ABORTED> {
  if (signal.aborted) return ABORTED
  let onAbort = (): void => {}
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

interface Encoded {
  readonly messages: Message[]
  readonly bytes: number
}

// Bytes a record adds to a produce request besides its key and value (varints, attributes,
// timestamp delta, headers count); an upper bound is enough for cutting requests.
const RECORD_OVERHEAD = 32

// A record's time as kafkajs takes a timestamp: milliseconds, as a string. Without a BigInt for
// times after 1970: hi·2^32 = hi·4294·10^6 + hi·967296, and hi·967296 + lo stays below 2^53, so
// the division is exact. Lines come many to a millisecond: the last string is kept.
let lastMs = -1
let lastMsText = ''
function timestampOf (time: TimeHalves): string {
  if (time.hi >= 0x80000000) return String(timeNanoOf(time) / 1_000_000n)
  const ms = time.hi * 4294 + Math.floor((time.hi * 967296 + time.lo) / 1e6)
  if (ms !== lastMs) {
    lastMs = ms
    lastMsText = String(ms)
  }
  return lastMsText
}

// Each record's JSON as a message value of its own: all written into one Buffer, then sliced.
export function recordValues (batch: readonly LogRecord[]): Buffer[] {
  const body = new RecordBodyWriter(batch)
  const ends: number[] = []
  for (const record of batch) {
    body.record(record)
    ends.push(body.length)
  }
  const bytes = body.finish()
  return ends.map((end, i) => bytes.subarray(ends[i - 1] ?? 0, end))
}

class KafkaSink implements Sink {
  readonly name = 'kafka'
  readonly #producer: LazyProducer
  readonly #release: () => Promise<void>
  readonly #topic: string
  readonly #key: Buffer | null
  readonly #raw: boolean
  readonly #acks: number
  readonly #compression: CompressionTypes
  readonly #timeoutMs: number
  readonly #maxRequestBytes: number

  constructor (producer: { client: LazyProducer, release: () => Promise<void> }, o: KafkaOptions, topic: string, key: string) {
    this.#producer = producer.client
    this.#release = producer.release
    this.#topic = topic
    this.#key = key === '' ? null : Buffer.from(key)
    this.#raw = o.format === 'raw'
    this.#acks = ACKS[o.acks]
    this.#compression = COMPRESSION[o.compression]
    this.#timeoutMs = o.requestTimeoutMs
    this.#maxRequestBytes = o.messageMaxBytes
  }

  #encode (batch: readonly LogRecord[]): Encoded {
    const key = this.#key
    const values = this.#raw ? batch.map((r) => r.line) : recordValues(batch)
    const messages: Message[] = new Array<Message>(batch.length)
    let bytes = batch.length * ((key?.length ?? 0) + RECORD_OVERHEAD)
    for (let i = 0; i < batch.length; i++) {
      const value = values[i] as Buffer
      messages[i] = { key, value, timestamp: timestampOf((batch[i] as LogRecord).time) }
      bytes += value.length
    }
    return { messages, bytes }
  }

  // One batch is one produce request. The engine cuts batches on line bytes, and the request
  // limit is on encoded bytes, which only the sink knows: a batch that encodes larger than
  // kafka-message-max-bytes goes back to the engine to be halved (as does one the broker
  // refuses as too large, its own or the topic's limit being lower).
  async send (batch: readonly LogRecord[], signal: AbortSignal): Promise<Outcome> {
    const { messages, bytes } = this.#encode(batch)
    if (bytes > this.#maxRequestBytes && batch.length > 1) {
      return { tooLarge: `the batch encodes to ${bytes} bytes, over kafka-message-max-bytes (${this.#maxRequestBytes})` }
    }
    const request: ProducerBatch = {
      acks: this.#acks,
      timeout: this.#timeoutMs,
      compression: this.#compression,
      topicMessages: [{ topic: this.#topic, messages }],
    }
    try {
      return await unlessAborted(this.#producer.send(request), signal) === ABORTED ? { retry: 'plugin shutting down' } : { ok: true }
    } catch (err) {
      const refused = refusal(err)
      if (refused === undefined) {
        const outcome = classify(err)
        if ('retry' in outcome) this.#producer.failed(outcome.retry)
        return outcome
      }
      this.#producer.refused(refused)
      return { retry: `kafka refused: ${refused.cause}`, afterMs: REFUSED_RETRY_MS }
    }
  }

  async close (): Promise<void> {
    await this.#release()
  }
}

export const kafkaSink: SinkDefinition = {
  name: 'kafka',
  prefix: 'kafka',
  options: Object.values(kafkaOptions),
  // Concurrency 1: a container's batches go out one after the other, so with its key on one
  // partition its lines reach Kafka in order, retries included.
  batchDefaults: { maxRecords: 1000, maxBytes: '1m', timeoutMs: 200, concurrency: 1 },
  open (options: Options, container: ContainerMeta, log: Logger): Sink {
    const o = options.read(kafkaOptions)
    const topic = renderTemplate(o.topic, container)
    if (!TOPIC.test(topic) || topic === '.' || topic === '..') {
      throw invalidOption('kafka-topic', o.topic, `renders to "${topic}" for this container`, 'a topic name of 1 to 249 letters, digits, \'.\', \'_\' and \'-\'')
    }
    const key = renderTemplate(o.key, container)
    const connection = connectionOf(o, options)
    return new KafkaSink(producers.acquire(connection.id, () => new LazyProducer(connection.config, log)), o, topic, key)
  },
  closeAll: async () => await producers.closeAll(),
}

// ---- classify: the only place kafkajs's errors are interpreted ----

interface ErrorLike {
  readonly name: string
  readonly message: string
  readonly retriable?: unknown
  readonly type?: unknown
  readonly code?: unknown
  readonly broker?: unknown
  readonly cause?: unknown
}

function isErrorLike (value: unknown): value is ErrorLike {
  return value instanceof Error
}

// kafkajs wraps: its retrier turns the last retriable error into KafkaJSNumberOfRetriesExceeded
// (flagged non-retriable) and any other into KafkaJSNonRetriableError, each with the original as
// its cause. The whole chain has to be read, or a broker that is down would look final.
function causes (err: unknown): ErrorLike[] {
  const chain: ErrorLike[] = []
  for (let e: unknown = err; isErrorLike(e) && chain.length < 8 && !chain.includes(e); e = e.cause) chain.push(e)
  return chain
}

// Broker error codes kafkajs flags non-retriable that are about the cluster or this client, not
// about the records: the same records go through once the broker is up, the ACL or the
// credentials fixed, or the broker upgraded, so dropping them would lose lines for nothing.
const NOT_THE_RECORDS = new Set([
  'UNKNOWN', 'BROKER_NOT_AVAILABLE', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_VERSION',
  'SECURITY_DISABLED', 'UNSUPPORTED_COMPRESSION_TYPE', 'INVALID_REQUIRED_ACKS', 'LOG_DIR_NOT_FOUND',
  'REASSIGNMENT_IN_PROGRESS',
])
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])

// Innermost first: a wrapper repeating its cause's message adds nothing but its name.
function describe (chain: readonly ErrorLike[]): string {
  const seen = new Set<string>()
  const parts: string[] = []
  for (const e of [...chain].reverse()) {
    if (seen.has(e.message)) continue
    seen.add(e.message)
    // A connection error names its broker, which the message itself may not (a closed connection).
    const broker = typeof e.broker === 'string' && !e.message.includes(e.broker) ? ` (broker ${e.broker})` : ''
    parts.push(`${typeof e.type === 'string' ? e.type : e.name}: ${e.message}${broker}`)
  }
  return `kafka ${parts.join(', in ')}`
}

// The brokers refuse this client itself (its credentials or rights, the certificate either side
// shows): the same attempt fails the same way until someone changes the configuration, so it is
// retried slowly, and said once. kafkajs flags a failed TLS handshake retriable like any other
// connection error, hence the codes: Node's certificate checks, and the alerts a broker sends
// for a client certificate it refuses.
const REFUSED_RETRY_MS = 30_000
const REFUSED_TYPES = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED'])
const CERTIFICATE_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|(UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_).*|ERR_SSL_.*ALERT.*)$/

interface Refusal {
  // The broker that refused, when the error says (a TLS failure does, a SASL one does not).
  readonly broker: string | undefined
  readonly cause: string
}

function refusal (err: unknown): Refusal | undefined {
  const chain = causes(err)
  const refused = chain.find((e) => e.name === 'KafkaJSSASLAuthenticationError' || (typeof e.type === 'string' && REFUSED_TYPES.has(e.type)) ||
    (typeof e.code === 'string' && CERTIFICATE_CODES.test(e.code)))
  if (refused === undefined) return undefined
  const what = typeof refused.code === 'string' ? refused.code : typeof refused.type === 'string' ? refused.type : refused.name
  return { broker: typeof refused.broker === 'string' ? refused.broker : undefined, cause: `${what}: ${refused.message}` }
}

function classify (err: unknown): Outcome {
  const chain = causes(err)
  const reason = describe(chain)
  // Any retriable link means a transient cause (connection refused, leader moving, timeouts).
  if (chain.length === 0 || chain.some((e) => e.retriable === true)) return { retry: reason }
  const protocol = chain.find((e) => typeof e.type === 'string')
  // No broker error code: the client gave up (SASL failed, API unsupported, lock timeout, a
  // bug of its own) without the broker judging the records.
  if (protocol === undefined || typeof protocol.type !== 'string') return { retry: reason }
  if (TOO_LARGE.has(protocol.type)) return { tooLarge: reason }
  if (NOT_THE_RECORDS.has(protocol.type)) return { retry: reason }
  // The broker judged the records and will never take them (INVALID_RECORD, INVALID_TIMESTAMP,
  // INVALID_TOPIC_EXCEPTION, POLICY_VIOLATION, ...).
  return { drop: reason }
}
