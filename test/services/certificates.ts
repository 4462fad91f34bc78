import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exec } from '../helpers/process.js'

// TLS material for the tests, made with openssl when a test needs it, so no private key is ever
// committed: a CA, a broker certificate it signed for 127.0.0.1, a client certificate for mutual
// TLS, and a second CA that signed nothing the broker trusts (the "untrusted certificate" case).
// Each file is PEM; keys are unencrypted PKCS#8, which both Node and Kafka's PEM stores read.

export interface Certificates {
  readonly dir: string
  readonly caFile: string
  readonly caKeyFile: string
  readonly brokerCertFile: string
  readonly brokerKeyFile: string
  // Key and chain in one file, as Kafka's ssl.keystore.type=PEM reads them.
  readonly brokerKeystoreFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
  // A broker certificate from otherCa: a client trusting caFile refuses it.
  readonly untrustedKeystoreFile: string
  readonly otherCaFile: string
  remove: () => void
}

async function openssl (dir: string, args: readonly string[]): Promise<void> {
  const result = await exec('openssl', args, { cwd: dir, timeoutMs: 60_000 })
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (exit ${result.code ?? result.signal}); is openssl installed?\n${result.output}`)
}

async function newCa (dir: string, name: string, subject: string): Promise<void> {
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '7',
    '-subj', subject, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
}

// A leaf certificate `name`.pem with key `name`-key.pem, signed by `ca`; extensions as in x509v3_config.
async function newLeaf (dir: string, name: string, ca: string, subject: string, extensions: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), extensions)
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject])
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '7', '-extfile', `${name}.ext`])
}

const SERVER = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
const CLIENT = 'extendedKeyUsage=clientAuth\n'

export async function makeCertificates (): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), 'logrelay-tls-'))
  try {
    await newCa(dir, 'ca', '/CN=logrelay test CA')
    await newCa(dir, 'other-ca', '/CN=logrelay untrusted CA')
    await newLeaf(dir, 'broker', 'ca', '/CN=127.0.0.1', SERVER)
    await newLeaf(dir, 'untrusted', 'other-ca', '/CN=127.0.0.1', SERVER)
    await newLeaf(dir, 'client', 'ca', '/CN=logrelay test client', CLIENT)
    const keystore = (name: string): string => {
      const file = join(dir, `${name}-keystore.pem`)
      writeFileSync(file, readFileSync(join(dir, `${name}-key.pem`), 'utf8') + readFileSync(join(dir, `${name}.pem`), 'utf8'))
      return file
    }
    return {
      dir,
      caFile: join(dir, 'ca.pem'),
      caKeyFile: join(dir, 'ca-key.pem'),
      brokerCertFile: join(dir, 'broker.pem'),
      brokerKeyFile: join(dir, 'broker-key.pem'),
      brokerKeystoreFile: keystore('broker'),
      clientCertFile: join(dir, 'client.pem'),
      clientKeyFile: join(dir, 'client-key.pem'),
      untrustedKeystoreFile: keystore('untrusted'),
      otherCaFile: join(dir, 'other-ca.pem'),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
