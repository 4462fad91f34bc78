import { TEST_IMAGE } from './dockerd.js'
import { exec, type ExecResult } from './process.js'

export { TEST_IMAGE }

// The docker CLI against the private engine started by the test runner.
export function dockerHost (): string {
  const host = process.env['DOCKER_HOST']
  if (host === undefined) throw new Error('DOCKER_HOST is not set: run the tests with `npm test`, which starts a private dockerd')
  return host
}

export function docker (args: readonly string[], timeoutMs = 120_000): Promise<ExecResult> {
  return exec('docker', args, { env: { ...process.env, DOCKER_HOST: dockerHost() }, timeoutMs })
}

// Fails loudly: a docker command that should work and did not is the test's finding.
export async function dockerOk (args: readonly string[], timeoutMs?: number): Promise<Buffer> {
  const result = await docker(args, timeoutMs)
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

let counter = 0
export function uniqueName (prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`
}

// The docker run arguments that log a container through `driver` with `opts` as its log-opts
// (`sink=http`, ...).
export function driverArgs (driver: string, opts: readonly string[] = []): string[] {
  return ['--log-driver', driver, ...opts.flatMap((o) => ['--log-opt', o])]
}

// A busybox shell script writing `${prefix}1` to `${prefix}${count}`, one per line.
export function countingScript (count: number, prefix: string): string {
  return `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); echo ${prefix}$i; done`
}

// Runs a test container (no network, `args` for docker run) until `script` exits; returns its
// name, for docker logs and inspect.
export async function runToEnd (args: readonly string[], script: string, name = uniqueName('c'), timeoutMs?: number): Promise<string> {
  await dockerOk(['run', '--name', name, '--network', 'none', ...args, TEST_IMAGE, 'sh', '-c', script], timeoutMs)
  return name
}
