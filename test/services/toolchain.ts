import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { exec } from '../helpers/process.js'
import { ServicesError, ServicesErrorCode } from './errors.js'

export interface Jdk {
  readonly home: string
  readonly java: string
  readonly javac: string
  readonly jar: string
  readonly feature: number
}

const MIN_JAVA = 17
const INSTALL_JDK = 'install a JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to one'
const OR_USE_YOUR_OWN =
  'or run Kafka and Elasticsearch yourself (docker compose -f docker-compose.test.yml up -d) and set ' +
  'KAFKA_BROKERS=127.0.0.1:9092 ES_URL=http://127.0.0.1:9200'

// The JDK both servers run on and the small Elasticsearch plugin is compiled with: JAVA_HOME when
// set, else the `java` on PATH, asked for its own home so javac and jar come from the same JDK.
export async function findJdk (env: NodeJS.ProcessEnv = process.env): Promise<Jdk> {
  const javaHomeEnv = env['JAVA_HOME']
  const candidate = javaHomeEnv !== undefined && javaHomeEnv !== '' ? join(javaHomeEnv, 'bin', 'java') : 'java'
  if (candidate !== 'java' && !existsSync(candidate)) {
    throw new ServicesError(
      ServicesErrorCode.NO_JAVA,
      `JAVA_HOME is ${javaHomeEnv} but there is no bin/java under it: ${INSTALL_JDK}, ${OR_USE_YOUR_OWN}`,
    )
  }
  let output: string
  try {
    output = (await exec(candidate, ['-XshowSettings:properties', '-version'], { timeoutMs: 30_000 })).output
  } catch (err) {
    throw new ServicesError(
      ServicesErrorCode.NO_JAVA,
      `Java is needed to run Kafka and Elasticsearch for the tests, and no \`java\` is on PATH: ${INSTALL_JDK}, ${OR_USE_YOUR_OWN}`,
      { cause: err },
    )
  }
  const home = /^\s*java\.home = (.+)$/m.exec(output)?.[1]?.trim()
  const spec = /^\s*java\.specification\.version = (\d+)/m.exec(output)?.[1]
  const feature = spec === undefined ? Number.NaN : Number.parseInt(spec, 10)
  if (home === undefined || !(feature >= MIN_JAVA)) {
    throw new ServicesError(
      ServicesErrorCode.NO_JAVA,
      `${candidate} is Java ${spec ?? '(unknown version)'}; Kafka 4 and Elasticsearch 8 need ${MIN_JAVA} or newer: ${INSTALL_JDK}`,
    )
  }
  const jdk: Jdk = {
    home,
    java: join(home, 'bin', 'java'),
    javac: join(home, 'bin', 'javac'),
    jar: join(home, 'bin', 'jar'),
    feature,
  }
  if (!existsSync(jdk.javac) || !existsSync(jdk.jar)) {
    throw new ServicesError(
      ServicesErrorCode.NO_JDK,
      `${home} is a Java runtime without javac; a full JDK is needed to build the test node's small plugin: ${INSTALL_JDK}`,
    )
  }
  return jdk
}

export async function checkMaven (cacheDir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const result = await exec('mvn', ['-v'], { env, timeoutMs: 60_000 })
    if (result.code !== 0) throw new Error(result.output)
  } catch (err) {
    throw new ServicesError(
      ServicesErrorCode.NO_MAVEN,
      'Maven (`mvn`) is needed once, to download Kafka and Elasticsearch from Maven Central into ' +
        `${cacheDir}, and it is not on PATH (or does not run): install it (Debian/Ubuntu: apt-get install maven), ${OR_USE_YOUR_OWN}`,
      { cause: err },
    )
  }
}
