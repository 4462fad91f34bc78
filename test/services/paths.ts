import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const KAFKA_PORT = 9092
export const KAFKA_CONTROLLER_PORT = 9093
export const ES_PORT = 9200
export const DEFAULT_KAFKA_BROKERS = `127.0.0.1:${KAFKA_PORT}`
export const DEFAULT_ES_URL = `http://127.0.0.1:${ES_PORT}`

export interface ServicePaths {
  // test/services in the source tree: the pom, templates and the Java plugin source.
  readonly sourceDir: string
  readonly pom: string
  // Everything downloaded or started lives under here (gitignored; LOGRELAY_SERVICES_DIR overrides).
  readonly cacheDir: string
  // Maven's local repository, kept apart from ~/.m2 so a cache wipe is a true first run.
  readonly mavenRepo: string
  readonly artifactsDir: string
  readonly kafkaLibs: string
  readonly esHome: string
  readonly kafkaRunDir: string
  readonly esRunDir: string
  readonly lockDir: string
  readonly kafkaVersion: string
  readonly esVersion: string
}

// The compiled file runs from dist/test/services and the source from test/services: walk up to
// whichever ancestor holds the pom rather than counting levels.
function findRepoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'test', 'services', 'pom.xml')) && existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error('test/services/pom.xml not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

function pomProperty (pomText: string, name: string): string {
  const match = new RegExp(`<${name.replace(/\./g, '\\.')}>([^<]+)</`).exec(pomText)
  if (match?.[1] === undefined) throw new Error(`test/services/pom.xml has no <${name}> property`)
  return match[1].trim()
}

export function servicePaths (env: NodeJS.ProcessEnv = process.env): ServicePaths {
  const root = findRepoRoot()
  const sourceDir = join(root, 'test', 'services')
  const pom = join(sourceDir, 'pom.xml')
  const pomText = readFileSync(pom, 'utf8')
  const esVersion = pomProperty(pomText, 'elasticsearch.version')
  // Elasticsearch refuses to run as root, so as root it runs as `nobody`, which must be able to
  // read its files: the clone may sit under a private directory, so root keeps the cache where
  // any user can read it (and where the next run on this machine finds the downloads).
  const cacheDir = env['LOGRELAY_SERVICES_DIR'] ?? (process.getuid?.() === 0 ? '/var/tmp/logrelay-services' : join(root, '.cache', 'services'))
  const artifactsDir = join(cacheDir, 'artifacts')
  return {
    sourceDir,
    pom,
    cacheDir,
    mavenRepo: join(cacheDir, 'm2'),
    artifactsDir,
    kafkaLibs: join(artifactsDir, 'kafka', 'libs'),
    esHome: join(artifactsDir, 'elasticsearch', `elasticsearch-${esVersion}`),
    kafkaRunDir: join(cacheDir, 'run', 'kafka'),
    esRunDir: join(cacheDir, 'run', 'elasticsearch'),
    lockDir: join(cacheDir, 'lock'),
    kafkaVersion: pomProperty(pomText, 'kafka.version'),
    esVersion,
  }
}
