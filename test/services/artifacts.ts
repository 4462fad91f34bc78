import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exec } from '../helpers/process.js'
import { ServicesError, ServicesErrorCode } from './errors.js'
import type { ServicePaths } from './paths.js'
import { checkMaven, type Jdk } from './toolchain.js'

const PLUGIN_NAME = 'logrelay-root-info'
const MAVEN_TIMEOUT_MS = 15 * 60_000

// What a network failure looks like in Maven's output, for a message that says so plainly.
const UNREACHABLE =
  /Could not transfer|UnknownHost|Unknown host|Connection refused|connect timed out|Read timed out|Network is unreachable|No route to host|Temporary failure in name resolution|PKIX path|Remote host terminated/i

function pluginSourceDir (paths: ServicePaths): string {
  return join(paths.sourceDir, 'elasticsearch', 'root-info')
}

function javaSources (paths: ServicePaths): string[] {
  const src = join(pluginSourceDir(paths), 'src')
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.java'))
    .sort()
    .map((file) => join(src, file))
}

// Changes to the pom (versions) or to the plugin re-resolve and rebuild on next use.
function inputsHash (paths: ServicePaths): string {
  const hash = createHash('sha256')
  const descriptor = join(pluginSourceDir(paths), 'plugin-descriptor.properties')
  for (const file of [paths.pom, descriptor, ...javaSources(paths)]) {
    hash.update(file.slice(paths.sourceDir.length)).update('\0').update(readFileSync(file)).update('\0')
  }
  return hash.digest('hex')
}

function firstMatchingLine (output: string, pattern: RegExp): string {
  return output.split('\n').find((line) => pattern.test(line))?.replace(/^\[[A-Z]+\]\s*/, '').trim() ?? ''
}

async function resolveWithMaven (paths: ServicePaths, jdk: Jdk): Promise<void> {
  const env = { ...process.env, JAVA_HOME: jdk.home }
  await checkMaven(paths.cacheDir, env)
  const result = await exec(
    'mvn',
    [
      '-B',
      '-ntp',
      '-f',
      paths.pom,
      `-Dmaven.repo.local=${paths.mavenRepo}`,
      `-Dservices.out=${paths.artifactsDir}`,
      'dependency:copy-dependencies@kafka',
      'dependency:unpack@elasticsearch',
    ],
    { env, timeoutMs: MAVEN_TIMEOUT_MS },
  )
  if (result.code === 0) return
  const tail = result.output.trimEnd().split('\n').slice(-12).join('\n')
  if (result.signal !== null) {
    throw new ServicesError(
      ServicesErrorCode.MAVEN_UNREACHABLE,
      `downloading Kafka and Elasticsearch from Maven Central took over ${MAVEN_TIMEOUT_MS / 60_000} minutes and was stopped; ` +
        `is Maven Central reachable from here?\n${tail}`,
    )
  }
  if (UNREACHABLE.test(result.output)) {
    throw new ServicesError(
      ServicesErrorCode.MAVEN_UNREACHABLE,
      'Maven Central is unreachable, so Kafka and Elasticsearch could not be downloaded (needed once, then cached ' +
        `in ${paths.cacheDir}): ${firstMatchingLine(result.output, UNREACHABLE)}\n` +
        'Check the network or proxy (Maven settings.xml mirrors and proxies apply), or run the servers yourself ' +
        '(docker compose -f docker-compose.test.yml up -d) and set KAFKA_BROKERS and ES_URL.',
    )
  }
  throw new ServicesError(
    ServicesErrorCode.MAVEN_FAILED,
    `mvn could not resolve Kafka ${paths.kafkaVersion} and Elasticsearch ${paths.esVersion} ` +
      `(test/services/pom.xml); its last lines:\n${tail}`,
  )
}

// The integration-test distribution lacks the rest-root module, which serves GET / and HEAD /;
// clients need both (info(), ping()). The project's own small plugin serves them from the node's
// real build and cluster state, compiled against the very jars it will run with.
async function buildRootInfoPlugin (paths: ServicePaths, jdk: Jdk): Promise<void> {
  const pluginDir = join(paths.esHome, 'plugins', PLUGIN_NAME)
  const classes = mkdtempSync(join(paths.artifactsDir, 'root-info-classes-'))
  try {
    const compiled = await exec(
      jdk.javac,
      ['--release', '17', '-nowarn', '-cp', join(paths.esHome, 'lib', '*'), '-d', classes, ...javaSources(paths)],
      { timeoutMs: 120_000 },
    )
    if (compiled.code !== 0) {
      throw new ServicesError(
        ServicesErrorCode.START_FAILED,
        `could not compile the Elasticsearch test plugin (test/services/elasticsearch/root-info) against ` +
          `Elasticsearch ${paths.esVersion}:\n${compiled.output.trimEnd()}`,
      )
    }
    mkdirSync(pluginDir, { recursive: true })
    const packed = await exec(jdk.jar, ['cf', join(pluginDir, `${PLUGIN_NAME}.jar`), '-C', classes, '.'], {
      timeoutMs: 60_000,
    })
    if (packed.code !== 0) throw new Error(`jar failed: ${packed.output}`)
    const descriptor = readFileSync(join(pluginSourceDir(paths), 'plugin-descriptor.properties'), 'utf8')
    writeFileSync(
      join(pluginDir, 'plugin-descriptor.properties'),
      descriptor.replaceAll('@ELASTICSEARCH_VERSION@', paths.esVersion),
    )
  } finally {
    rmSync(classes, { recursive: true, force: true })
  }
}

// Kafka's jars and an Elasticsearch home, from the cache when it was filled from the same inputs,
// else resolved from Maven Central (once: about 170 MB) and prepared.
export async function ensureArtifacts (paths: ServicePaths, jdk: Jdk, log: (line: string) => void): Promise<void> {
  const stampFile = join(paths.artifactsDir, 'stamp')
  const wanted = inputsHash(paths)
  const cached =
    existsSync(stampFile) &&
    readFileSync(stampFile, 'utf8').trim() === wanted &&
    existsSync(paths.kafkaLibs) &&
    existsSync(join(paths.esHome, 'bin', 'elasticsearch'))
  if (cached) return

  log(
    `services: preparing Kafka ${paths.kafkaVersion} and Elasticsearch ${paths.esVersion} in ${paths.cacheDir} ` +
      '(first use downloads ~170 MB from Maven Central: a minute or two)',
  )
  rmSync(paths.artifactsDir, { recursive: true, force: true })
  mkdirSync(paths.artifactsDir, { recursive: true })
  await resolveWithMaven(paths, jdk)
  await buildRootInfoPlugin(paths, jdk)
  // Elasticsearch runs as nobody when we are root; it must be able to read its own home.
  await exec('chmod', ['-R', 'a+rX', paths.esHome])
  writeFileSync(stampFile, wanted + '\n')
}
