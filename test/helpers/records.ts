import { timeHalves, type ContainerMeta, type LogRecord } from '../../src/record.js'

// The container and records unit tests and benchmarks build sinks' input from.

export function containerMeta (fields: Partial<ContainerMeta> = {}): ContainerMeta {
  return {
    id: 'c'.repeat(64),
    name: 'web-1',
    imageName: 'nginx:1.27',
    imageId: `sha256:${'a'.repeat(64)}`,
    labels: {},
    env: {},
    tag: undefined,
    hostName: 'test-host',
    allLabels: {},
    daemonName: 'docker',
    command: 'nginx -g daemon off;',
    ...fields,
  }
}

export const BASE_TIME_NANO = 1_795_998_399_333_000_000n

// `count` stdout records of `line`, a microsecond apart, numbered from 1.
export function logRecords (count: number, line: Buffer, container = containerMeta(), startNano = BASE_TIME_NANO): LogRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    stream: 'stdout', time: timeHalves(startNano + BigInt(i * 1000)), line, complete: true, sequence: i + 1, container,
  }))
}
