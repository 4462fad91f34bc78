import fs from 'node:fs'
import { parseArgs } from 'node:util'
import { createPlugin, dockerfileBaseImage, hostBaseImage, makePluginDir, run, type RootfsSource } from './plugin-dir.js'

// `npm run plugin:build [-- [NAME] [--rootfs auto|dockerfile|host] [--base-image IMAGE]
// [--network host]]`: creates (or replaces) the managed plugin NAME, logrelay/logrelay:latest by
// default, on the engine DOCKER_HOST names. `--base-image host` builds the Dockerfile on a base
// image made from this host's node (see hostBaseImage). See README.md, "Install as a managed plugin".

const USAGE = 'usage: npm run plugin:build -- [NAME] [--rootfs auto|dockerfile|host] [--base-image IMAGE|host] [--network NETWORK]'

async function imageAvailable (image: string): Promise<boolean> {
  if (await run('docker', ['image', 'inspect', image]).then(() => true, () => false)) return true
  return await run('docker', ['pull', image]).then(() => true, () => false)
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rootfs: { type: 'string', default: 'auto' },
      'base-image': { type: 'string' },
      network: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true || positionals.length > 1) {
    console.log(USAGE)
    process.exit(values.help === true ? 0 : 2)
  }
  const name = positionals[0] ?? 'logrelay/logrelay:latest'
  let mode = values.rootfs
  if (mode === 'auto') {
    // Where no image can be pulled (air-gapped hosts, these CI machines) the host's node
    // stands in for the base image.
    const base = values['base-image'] ?? dockerfileBaseImage()
    mode = await imageAvailable(base) ? 'dockerfile' : 'host'
    console.log(mode === 'dockerfile' ? `building the rootfs from the Dockerfile on ${base}` : `${base} cannot be pulled: making the rootfs from this host's node (${process.execPath})`)
  }
  if (mode !== 'host' && mode !== 'dockerfile') throw new Error(`--rootfs ${mode}: expected auto, dockerfile or host\n${USAGE}`)
  const hostBase = mode === 'dockerfile' && values['base-image'] === 'host'
    ? `logrelay-build/node-host:${process.pid}-${Date.now().toString(36)}`
    : undefined
  if (hostBase !== undefined) {
    console.log(`making the base image ${hostBase} from this host's node (${process.execPath})`)
    await hostBaseImage(hostBase)
  }
  try {
    const baseImage = hostBase ?? values['base-image']
    const source: RootfsSource = mode === 'host'
      ? { from: 'host' }
      : { from: 'dockerfile', ...(baseImage === undefined ? {} : { baseImage }), ...(values.network === undefined ? {} : { network: values.network }) }
    const dir = await makePluginDir(source)
    try {
      await createPlugin(name, dir)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  } finally {
    if (hostBase !== undefined) await run('docker', ['rmi', hostBase])
  }
  console.log(`created the plugin ${name}; enable it with: docker plugin enable --timeout 0 ${name}`)
}

main().catch((err: unknown) => {
  console.error(`plugin:build failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
