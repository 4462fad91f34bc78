import { TestHttpServer, type Answer } from './http-server.js'
import { PluginProcess } from './plugin.js'

// The plugins and HTTP servers a test file starts, each started here and all stopped by one
// cleanup() in the file's after().
export class Started {
  readonly #plugins: PluginProcess[] = []
  readonly #servers: TestHttpServer[] = []

  async plugin (settings: NodeJS.ProcessEnv = {}): Promise<PluginProcess> {
    const p = new PluginProcess(settings)
    this.#plugins.push(p)
    await p.start()
    return p
  }

  async server (policy?: (n: number) => Answer): Promise<TestHttpServer> {
    const server = await TestHttpServer.start(policy === undefined ? {} : { policy })
    this.#servers.push(server)
    return server
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.#plugins.map(async (p) => await p.cleanup()))
    await Promise.all(this.#servers.map(async (s) => await s.close()))
  }
}
