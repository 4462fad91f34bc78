import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'

// The reference for the benchmarks: a plugin that speaks just enough of the protocol and only
// drains each FIFO to EOF, decoding nothing and storing nothing. Its wall time is what the
// daemon and the kernel cost by themselves; logrelay's is printed as a ratio to it. It claims
// ReadLogs so the daemon does not add its dual-logging cache, which would slow the reference.
function answer (url: string | undefined, body: string): string {
  switch (url) {
    case '/Plugin.Activate': return '{"Implements":["LogDriver"]}'
    case '/LogDriver.Capabilities': return '{"Cap":{"ReadLogs":true}}'
    case '/LogDriver.StartLogging': {
      const file = (JSON.parse(body) as { File: string }).File
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
      new net.Socket({ fd, readable: true, writable: false }).on('data', () => {}).on('error', () => {})
      return '{}'
    }
    default: return '{}'
  }
}

export function serveDrainPlugin (socket: string): http.Server {
  fs.rmSync(socket, { force: true })
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.url === '/LogDriver.ReadLogs') return res.end()
      res.end(answer(req.url, Buffer.concat(chunks).toString()))
    })
  })
  return server.listen(socket)
}

const socket = process.env['LOGRELAY_SOCKET']
if (socket !== undefined) serveDrainPlugin(socket)
