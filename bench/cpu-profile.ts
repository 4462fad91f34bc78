import { readFileSync } from 'node:fs'
import type { Profiler } from 'node:inspector'

// What a .cpuprofile says in a few lines: the functions with the most self time, and the share
// of each part above half a percent (logrelay, kafkajs, other packages, Node's own code, GC),
// idle time left out.

export interface ProfileEntry {
  readonly name: string
  readonly where: string
  readonly percent: number
}

function partOf (url: string): string {
  if (url === '') return 'V8 / native'
  if (url.startsWith('node:')) return 'node'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]
  if (pkg !== undefined) return pkg
  return url.includes('/dist/') ? 'logrelay' : url
}

export function summarize (file: string, top = 15): { entries: ProfileEntry[], parts: ProfileEntry[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profiler.Profile
  const hits = new Map<number, number>()
  for (const id of profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1)
  // Idle time is the process waiting: the share of work is what matters.
  const busy = profile.nodes.filter((n) => n.callFrame.functionName !== '(idle)')
  const total = busy.reduce((sum, n) => sum + (hits.get(n.id) ?? 0), 0)
  const byFunction = new Map<string, ProfileEntry>()
  const byPart = new Map<string, number>()
  for (const node of busy) {
    const count = hits.get(node.id) ?? 0
    if (count === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const where = url === '' ? '' : `${url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`
    const key = `${functionName}@${where}`
    const entry = byFunction.get(key)
    byFunction.set(key, { name: functionName === '' ? '(anonymous)' : functionName, where, percent: (entry?.percent ?? 0) + count / total * 100 })
    const part = functionName.startsWith('(') ? functionName : partOf(url)
    byPart.set(part, (byPart.get(part) ?? 0) + count / total * 100)
  }
  const entries = [...byFunction.values()].sort((a, b) => b.percent - a.percent).slice(0, top)
  const parts = [...byPart.entries()].map(([name, percent]) => ({ name, where: '', percent })).filter((p) => p.percent >= 0.5).sort((a, b) => b.percent - a.percent)
  return { entries, parts }
}

export function printProfile (file: string): void {
  const { entries, parts } = summarize(file)
  console.log(`profile ${file} (self time, share of the busy samples):`)
  console.log(`  by part: ${parts.map((p) => `${p.name} ${p.percent.toFixed(1)}%`).join(', ')}`)
  for (const e of entries) console.log(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.name}  ${e.where}`)
}
