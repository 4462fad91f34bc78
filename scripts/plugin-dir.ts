import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

// A managed plugin is a directory holding config.json and rootfs/, handed to
// `docker plugin create`. The rootfs comes from the Dockerfile where the base image can be
// pulled, or from this host's own node binary and libraries where it cannot
// (shared/docs/test-infra.md); both lay it out as config.json's entrypoint and workdir say.

const execFileAsync = promisify(execFile)

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url))

// What runs in the plugin; everything else (tests, bench, sources) stays out of the rootfs.
// The Dockerfile's last stage copies the same paths.
const RUNTIME_PATHS = ['package.json', 'proto', 'dist/src', 'dist/sinks']

export interface PluginEnv {
  readonly name: string
  readonly value: string
  readonly settable: readonly string[]
}

export interface PluginConfig {
  readonly description: string
  readonly interfaceTypes: readonly string[]
  readonly socket: string
  readonly entrypoint: readonly string[]
  readonly workdir: string
  readonly networkType: string
  readonly propagatedMount: string
  readonly mountDestinations: readonly string[]
  readonly env: readonly PluginEnv[]
}

function record (value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`config.json: ${what} is not an object`)
  return value as Record<string, unknown>
}

function str (value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`config.json: ${what} is not a string`)
  return value
}

function strings (value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new Error(`config.json: ${what} is not a list`)
  return value.map((v, i) => str(v, `${what}[${i}]`))
}

export function readPluginConfig (file = path.join(projectRoot, 'config.json')): PluginConfig {
  const config = record(JSON.parse(fs.readFileSync(file, 'utf8')), 'the file')
  const iface = record(config['interface'], 'interface')
  const mounts = config['mounts'] === undefined ? [] : config['mounts']
  if (!Array.isArray(mounts)) throw new Error('config.json: mounts is not a list')
  const env = config['env'] === undefined ? [] : config['env']
  if (!Array.isArray(env)) throw new Error('config.json: env is not a list')
  return {
    description: str(config['description'], 'description'),
    interfaceTypes: strings(iface['types'], 'interface.types'),
    socket: str(iface['socket'], 'interface.socket'),
    entrypoint: strings(config['entrypoint'], 'entrypoint'),
    workdir: str(config['workdir'], 'workdir'),
    networkType: str(record(config['network'], 'network')['type'], 'network.type'),
    propagatedMount: str(config['propagatedMount'], 'propagatedMount'),
    mountDestinations: mounts.map((m, i) => str(record(m, `mounts[${i}]`)['destination'], `mounts[${i}].destination`)),
    env: env.map((e, i) => {
      const entry = record(e, `env[${i}]`)
      const settable = entry['settable'] === undefined ? [] : strings(entry['settable'], `env[${i}].settable`)
      return { name: str(entry['name'], `env[${i}].name`), value: str(entry['value'], `env[${i}].value`), settable }
    }),
  }
}

export async function run (command: string, args: readonly string[], cwd = projectRoot): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, maxBuffer: 256 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr
    throw new Error(`${command} ${args.join(' ')} failed: ${typeof stderr === 'string' && stderr !== '' ? stderr.trim() : String(err)}`, { cause: err })
  }
}

// ldd prints "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the loader as
// "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file. A static binary needs nothing.
export async function sharedLibraries (binary: string): Promise<string[]> {
  let out: string
  try {
    out = await run('ldd', [binary])
  } catch (err) {
    if (/not a dynamic executable/.test(String((err as Error).message))) return []
    throw err
  }
  return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1] ?? '').filter((p) => p !== '')
}

function into (rootfs: string, absolute: string): string {
  return path.join(rootfs, absolute.replace(/^\/+/, ''))
}

// The packages `npm ci --omit=dev` would install, copied from the project's node_modules, so
// no registry is needed. Each package is copied without its nested node_modules: those are
// listed (and copied) on their own when they are production dependencies.
async function copyProductionModules (appDir: string): Promise<void> {
  const out = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'])
  const modulesDir = path.join(projectRoot, 'node_modules')
  for (const dir of out.split('\n').map((l) => l.trim())) {
    if (!dir.startsWith(modulesDir + path.sep)) continue
    const nested = path.join(dir, 'node_modules')
    fs.cpSync(dir, path.join(appDir, path.relative(projectRoot, dir)), { recursive: true, filter: (src) => src !== nested })
  }
}

function copyRuntime (appDir: string): void {
  if (!fs.existsSync(path.join(projectRoot, 'dist/src/main.js'))) throw new Error('dist/src/main.js is missing: run `npm run build` first')
  for (const p of RUNTIME_PATHS) fs.cpSync(path.join(projectRoot, p), path.join(appDir, p), { recursive: true })
}

function copyInto (rootfs: string, from: string, to: string, mode?: number): void {
  fs.mkdirSync(path.dirname(into(rootfs, to)), { recursive: true })
  fs.copyFileSync(from, into(rootfs, to))
  if (mode !== undefined) fs.chmodSync(into(rootfs, to), mode)
}

// The node binary at the path config.json's entrypoint names (where the node images have it),
// and the libraries it links, at the paths its loader looks in.
async function copyNode (rootfs: string, node: string): Promise<string> {
  const nodeTarget = readPluginConfig().entrypoint[0]
  if (nodeTarget === undefined || !path.isAbsolute(nodeTarget)) throw new Error('config.json: entrypoint must start with the absolute path of node')
  copyInto(rootfs, node, nodeTarget, 0o755)
  for (const lib of await sharedLibraries(node)) copyInto(rootfs, lib, lib, 0o755)
  return nodeTarget
}

// Node, the app in config.json's workdir, and the few directories the runtime expects.
export async function hostRootfs (rootfs: string, node = process.execPath): Promise<void> {
  const config = readPluginConfig()
  await copyNode(rootfs, node)
  const appDir = into(rootfs, config.workdir)
  copyRuntime(appDir)
  await copyProductionModules(appDir)
  fs.mkdirSync(into(rootfs, config.propagatedMount), { recursive: true })
  fs.mkdirSync(into(rootfs, '/run/docker/plugins'), { recursive: true })
  fs.mkdirSync(into(rootfs, '/tmp'), { recursive: true, mode: 0o1777 })
  fs.chmodSync(into(rootfs, '/tmp'), 0o1777)
  // With network host the daemon bind-mounts these two files over the rootfs's own.
  fs.mkdirSync(into(rootfs, '/etc'), { recursive: true })
  for (const f of ['/etc/hosts', '/etc/resolv.conf']) fs.writeFileSync(into(rootfs, f), '')
}

const BUSYBOX_APPLETS = ['sh', 'env', 'mkdir', 'rm', 'cp', 'mv', 'ls', 'cat']

// A stand-in for the Dockerfile's base image where none can be pulled: this host's node and
// its libraries, its npm, a static busybox for RUN's /bin/sh (and npm's `#!/usr/bin/env node`),
// and the host's CA bundle, so that npm ci trusts what the host trusts (a TLS-inspecting proxy
// included).
export async function hostBaseImage (tag: string, node = process.execPath): Promise<void> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))
  if (busybox === undefined) throw new Error('a base image made from this host needs a static busybox: apt-get install -y busybox-static')
  const npm = path.resolve(path.dirname(node), '../lib/node_modules/npm')
  if (!fs.existsSync(path.join(npm, 'bin/npm-cli.js'))) throw new Error(`npm is not where node's prefix puts it (${npm})`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-base-'))
  try {
    const rootfs = path.join(dir, 'rootfs')
    const nodeTarget = await copyNode(rootfs, node)
    const binDir = path.posix.dirname(nodeTarget)
    fs.cpSync(npm, into(rootfs, path.posix.join(binDir, '../lib/node_modules/npm')), { recursive: true })
    for (const tool of ['npm', 'npx']) fs.symlinkSync(`../lib/node_modules/npm/bin/${tool}-cli.js`, into(rootfs, path.posix.join(binDir, tool)))
    copyInto(rootfs, busybox, '/bin/busybox', 0o755)
    for (const applet of BUSYBOX_APPLETS) fs.symlinkSync('busybox', into(rootfs, `/bin/${applet}`))
    fs.mkdirSync(into(rootfs, '/usr/bin'), { recursive: true })
    fs.symlinkSync('/bin/env', into(rootfs, '/usr/bin/env'))
    fs.mkdirSync(into(rootfs, '/tmp'), { mode: 0o1777 })
    fs.chmodSync(into(rootfs, '/tmp'), 0o1777)
    const changes = ['-c', `ENV PATH=${binDir}:/usr/bin:/bin`]
    const caBundle = process.env['NODE_EXTRA_CA_CERTS'] ?? '/etc/ssl/certs/ca-certificates.crt'
    if (fs.existsSync(caBundle)) {
      copyInto(rootfs, caBundle, '/etc/ssl/certs/ca-certificates.crt')
      changes.push('-c', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
    }
    const tar = path.join(dir, 'rootfs.tar')
    await run('tar', ['-C', rootfs, '-cf', tar, '.'])
    await run('docker', ['import', ...changes, tar, tag])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// The base image the Dockerfile builds on, from its `ARG BASE_IMAGE=` line.
export function dockerfileBaseImage (): string {
  const match = /^ARG\s+BASE_IMAGE=(\S+)/m.exec(fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'))
  if (match?.[1] === undefined) throw new Error('Dockerfile has no ARG BASE_IMAGE=<default>')
  return match[1]
}

export interface DockerfileOptions {
  readonly baseImage?: string
  // `docker build --network`: host lets `npm ci` reach the npm registry where the daemon has no
  // bridge network.
  readonly network?: string
}

// The Dockerfile's final stage, flattened: build it, export a container made from it.
export async function dockerfileRootfs (rootfs: string, options: DockerfileOptions = {}): Promise<void> {
  const tag = `logrelay-plugin-rootfs:${process.pid}-${Date.now().toString(36)}`
  const args = ['build', '--quiet', '-t', tag]
  if (options.baseImage !== undefined) args.push('--build-arg', `BASE_IMAGE=${options.baseImage}`)
  if (options.network !== undefined) args.push('--network', options.network)
  await run('docker', [...args, projectRoot])
  const tar = path.join(path.dirname(rootfs), 'rootfs.tar')
  let container: string | undefined
  try {
    container = (await run('docker', ['create', tag])).trim()
    await run('docker', ['export', '-o', tar, container])
    fs.mkdirSync(rootfs, { recursive: true })
    await run('tar', ['-xf', tar, '-C', rootfs])
  } finally {
    fs.rmSync(tar, { force: true })
    if (container !== undefined) await run('docker', ['rm', container])
    await run('docker', ['rmi', tag])
  }
}

export type RootfsSource = { readonly from: 'host', readonly node?: string } | ({ readonly from: 'dockerfile' } & DockerfileOptions)

// Writes config.json and rootfs/ into a new temporary directory and returns its path.
export async function makePluginDir (source: RootfsSource): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-plugin-'))
  try {
    const rootfs = path.join(dir, 'rootfs')
    fs.mkdirSync(rootfs)
    if (source.from === 'host') await hostRootfs(rootfs, source.node)
    else await dockerfileRootfs(rootfs, source)
    fs.copyFileSync(path.join(projectRoot, 'config.json'), path.join(dir, 'config.json'))
    return dir
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

// Creates the plugin, replacing one of that name (forcibly: a plugin build is a development
// step, and a stale plugin of the same name would otherwise make create fail).
export async function createPlugin (name: string, dir: string): Promise<void> {
  const exists = await run('docker', ['plugin', 'inspect', '--format', '{{.Id}}', name]).then(() => true, () => false)
  if (exists) await run('docker', ['plugin', 'rm', '--force', name])
  await run('docker', ['plugin', 'create', name, dir])
}
