import net from 'node:net'

// Ports on 127.0.0.1 that nothing listens on right now, all distinct: each one the kernel handed
// out and took back. The brokers a test starts for itself bind them, so two test files (or two
// checkouts on one machine) never race for fixed numbers, nor for the shared broker's 9092/9093.
export async function freePorts (count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => await new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })))
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port)
  await Promise.all(servers.map(async (server) => await new Promise((resolve) => server.close(resolve))))
  return ports
}
