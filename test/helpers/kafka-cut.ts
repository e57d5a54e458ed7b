import { connect, createServer, type Server, type Socket } from 'node:net'
import type { ISocketFactory } from 'kafkajs'

/**
 * A TCP proxy in front of the real broker for one Kafka client (its `socketFactory` sends every
 * connection, whatever broker address the metadata names, through the proxy to that address).
 * `cut()` closes every proxied connection from the broker's side, as a broker that goes down
 * does, and closes each new one as soon as it is accepted; `restore()` lets connections through
 * again. Other clients of the shared broker are not affected.
 */
export interface KafkaCut {
  socketFactory: ISocketFactory
  cut: () => void
  restore: () => void
  /** Connections the client attempted while cut: proof it really tried the broker meanwhile. */
  refused: () => number
  close: () => Promise<void>
}

export async function kafkaCut(): Promise<KafkaCut> {
  let down = false
  let refused = 0
  const pairs = new Set<Socket>()
  // The proxy learns where a connection should go from the first line the factory writes.
  const server: Server = createServer((client) => {
    if (down) {
      refused++
      client.destroy()
      return
    }
    client.once('data', (first) => {
      const newline = first.indexOf(10)
      const [host, port] = first.subarray(0, newline).toString('utf8').split(' ')
      const upstream = connect({ host: host!, port: Number(port) })
      const rest = first.subarray(newline + 1)
      if (rest.length > 0) upstream.write(rest)
      client.pipe(upstream).pipe(client)
      for (const socket of [client, upstream]) {
        pairs.add(socket)
        socket.on('error', () => {})
        socket.once('close', () => {
          pairs.delete(socket)
          client.destroy()
          upstream.destroy()
        })
      }
    })
    client.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxyPort = (server.address() as { port: number }).port

  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connect({ host: '127.0.0.1', port: proxyPort }, () => {
      socket.write(`${host} ${port}\n`)
      onConnect()
    })
    socket.setKeepAlive(true, 60_000)
    return socket
  }
  return {
    socketFactory,
    cut: () => {
      down = true
      for (const socket of pairs) socket.destroy()
    },
    restore: () => {
      down = false
    },
    refused: () => refused,
    close: async () => {
      for (const socket of pairs) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
