import fs from 'node:fs'
import http from 'node:http'

// Run by CapabilitiesProbe as a process of its own: an idle server answering Capabilities as the
// plugin does, on a Unix socket. What the probe measures on it is what the host alone costs (a
// busy machine delays every process); only what the plugin takes beyond that is the plugin's.
const socket = process.argv[2] ?? ''
fs.rmSync(socket, { force: true })
const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Cap: { ReadLogs: true }, Err: '' })))
})
server.listen(socket, () => process.stdout.write('ready\n'))
process.stdin.on('end', () => server.close(() => fs.rmSync(socket, { force: true })))
process.stdin.resume()
