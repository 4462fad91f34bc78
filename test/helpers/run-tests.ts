import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDockerd } from './dockerd.js'

// `npm test`: starts what every test file shares (a private dockerd) once, runs node's test
// runner over the compiled tests with its address in the environment, and stops it again.
// Node 20's test runner has no global setup, hence this wrapper.
const testDir = fileURLToPath(new URL('..', import.meta.url))

function testFiles (dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(full)
    return entry.name.endsWith('.test.js') ? [full] : []
  }).sort()
}

async function main (): Promise<number> {
  const only = process.argv.slice(2)
  const files = only.length > 0 ? only.map((f) => path.resolve(f)) : testFiles(testDir)
  const dockerd = await startDockerd()
  try {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
      env: { ...process.env, DOCKER_HOST: dockerd.host },
      stdio: 'inherit',
    })
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
  } finally {
    await dockerd.stop()
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`npm test could not set up: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
