import { X509Certificate } from 'node:crypto'
import { errorMessage, PluginError } from '../src/errors.js'
import type { OptionKind } from '../src/options/kinds.js'
import { echo } from '../src/options/kinds.js'
import { envName, type OptionFile } from '../src/options/schema.js'

// What every sink's options have in common: URLs that carry no credentials, the files read at
// container start (CA certificates, secrets; loadOptions reads them), a secret given inline or
// in a file, the errors that name an option, and a server's Retry-After. The path of a file is
// no secret and is echoed; its contents (a key, a token) never are.

function isHttpUrl (raw: string): URL | undefined {
  try {
    const url = new URL(raw)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}

// A URL with user:password would put a credential where docker inspect shows it; it is
// refused, and never echoed with the credential in it.
function hideCredentials (raw: string): string {
  const url = isHttpUrl(raw)
  if (url === undefined || (url.username === '' && url.password === '')) return raw
  return `${url.protocol}//[credentials not shown]@${url.host}${url.pathname}`
}

function checkUrl (raw: string): void {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error('not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http or https')
  if (url.username !== '' || url.password !== '') throw new Error('credentials in the URL are not sent')
}

const URL_ACCEPTS = 'an http:// or https:// URL without user:password (credentials go in the sink\'s own options)'

export const httpUrl: OptionKind<string> = {
  accepts: URL_ACCEPTS,
  show: hideCredentials,
  parse: (raw) => {
    checkUrl(raw)
    return raw
  },
}

export const httpUrlList: OptionKind<readonly string[]> = {
  accepts: `a comma-separated list of ${URL_ACCEPTS.replace(/^an /, '')}s`,
  show: (raw) => raw.split(',').map(hideCredentials).join(','),
  parse: (raw) => {
    const urls = raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
    urls.forEach((url, i) => {
      try {
        checkUrl(url)
      } catch (err) {
        throw new Error(`URL ${i + 1}: ${errorMessage(err)}`)
      }
    })
    return urls
  },
}

// `value` is echoed as given: callers pass a path or a template, never a secret.
export function invalidOption (name: string, value: string | undefined, problem: string, accepts: string): PluginError {
  return new PluginError('LOGRELAY_ERR_OPT_INVALID', `invalid log-opt ${name}${value === undefined ? '' : `=${echo(value)}`} (${problem}): expected ${accepts}`)
}

// Options that make sense only together or only apart.
export function conflictingOptions (problem: string, accepts: string): PluginError {
  return new PluginError('LOGRELAY_ERR_OPT_INVALID', `invalid log-opts ${problem}: expected ${accepts}`)
}

// `condition` says when it is required: "with sink=http".
export function missingOption (name: string, condition: string, accepts: string): PluginError {
  return new PluginError('LOGRELAY_ERR_OPT_MISSING',
    `log-opt ${name} is required ${condition}: expected ${accepts} (as a log-opt, or as the plugin default ${envName(name)})`)
}

export function invalidOptionFile (file: OptionFile, problem: string, accepts: string): PluginError {
  return new PluginError('LOGRELAY_ERR_OPT_FILE', `invalid ${file.setBy}=${echo(file.path)} (${problem}): expected ${accepts}`)
}

const CA_ACCEPTS = 'a readable PEM file of CA certificates'

// TLS quietly ignores a CA file without certificates; parsing each one fails docker run
// instead, for a key or a DER file given by mistake.
export function readCaFile (file: OptionFile | undefined): string | undefined {
  if (file === undefined) return undefined
  const pem = file.text
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  if (certificates.length === 0) throw invalidOptionFile(file, 'no PEM certificate in it', CA_ACCEPTS)
  for (const certificate of certificates) {
    try {
      void new X509Certificate(certificate)
    } catch (err) {
      throw invalidOptionFile(file, errorMessage(err), CA_ACCEPTS)
    }
  }
  return pem
}

// A secret comes inline (`name`) or from a file (`name-file`), never both. The file's
// surrounding whitespace is not part of the secret.
export function readSecret (name: string, inline: string | undefined, file: OptionFile | undefined, what: string): string | undefined {
  if (inline !== undefined && file !== undefined) {
    throw conflictingOptions(`${name} and ${name}-file are both set`, 'only one of them')
  }
  if (file === undefined) return inline
  const content = file.text.trim()
  if (content === '') throw invalidOptionFile(file, 'it is empty', `a file holding ${what}`)
  return content
}

// A server asking for more than this is more likely confused than serious; the runner's backoff
// still applies on top.
const RETRY_AFTER_CAP_MS = 300_000

// Retry-After is either delay-seconds or an HTTP date (RFC 9110, 10.2.3).
export function retryAfterMs (value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_AFTER_CAP_MS)
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return undefined
  return Math.min(Math.max(at - now, 0), RETRY_AFTER_CAP_MS)
}
