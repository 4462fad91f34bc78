import { exec, type ExecResult } from './exec.js'

export { TEST_IMAGE } from './dockerd.js'

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
