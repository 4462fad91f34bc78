import fs from 'node:fs'
import path from 'node:path'
import { which } from './dockerd.js'
import { exec } from './process.js'

// Real stack traces, made at test time by the runtimes on the machine: a tiny program in each
// that logs a line, then dies of a chained exception. A test container replays what it wrote to
// stderr, so grouping is checked against what the runtimes really print, not against our idea
// of it.

export const RUNTIMES = ['java', 'python', 'node', 'go'] as const
export type Runtime = typeof RUNTIMES[number]

const PROGRAMS: Record<Runtime, { file: string, source: string }> = {
  java: {
    file: 'Boom.java',
    source: `public class Boom {
  static void inner() { throw new IllegalStateException("inner failure"); }
  static void outer() { try { inner(); } catch (Exception e) { throw new RuntimeException("outer failure", e); } }
  public static void main(String[] a) { System.err.println("starting"); outer(); }
}
`,
  },
  python: {
    file: 'boom.py',
    source: `import sys
def inner(): raise KeyError("x")
def outer():
    try: inner()
    except KeyError as e: raise ValueError("outer failure") from e
print("starting", file=sys.stderr)
outer()
`,
  },
  node: {
    file: 'boom.js',
    source: `function inner () { throw new Error('inner failure') }
function outer () { try { inner() } catch (e) { throw new Error('outer failure', { cause: e }) } }
console.error('starting')
outer()
`,
  },
  go: {
    file: 'main.go',
    source: `package main

import (
	"fmt"
	"os"
)

func worker(c chan int) { <-c }

func main() {
	c := make(chan int)
	go worker(c)
	fmt.Fprintln(os.Stderr, "starting")
	panic("boom")
}
`,
  },
}

const COMMANDS: Record<Runtime, string> = { java: 'java', python: 'python3', node: 'node', go: 'go' }

// What the runtime printed to stderr as it died: "starting", then its trace.
export async function makeTrace (runtime: Runtime, dir: string): Promise<string> {
  const command = COMMANDS[runtime]
  if (which(command) === undefined) throw new Error(`the multiline tests replay a real ${runtime} trace: install ${command} (Debian: ${runtime === 'java' ? 'openjdk-17-jdk-headless' : runtime === 'python' ? 'python3' : runtime === 'go' ? 'golang' : 'nodejs'})`)
  const work = path.join(dir, runtime)
  fs.mkdirSync(work, { recursive: true })
  const program = PROGRAMS[runtime]
  fs.writeFileSync(path.join(work, program.file), program.source)
  let args: string[]
  if (runtime === 'go') {
    fs.writeFileSync(path.join(work, 'go.mod'), 'module boom\n\ngo 1.20\n')
    const built = await exec('go', ['build', '-o', 'boom', '.'], { cwd: work, env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, timeoutMs: 300_000 })
    if (built.code !== 0) throw new Error(`go build failed: ${built.output}`)
    args = []
  } else {
    args = [program.file]
  }
  const run = await exec(runtime === 'go' ? path.join(work, 'boom') : command, args, { cwd: work, env: { ...process.env, GOTRACEBACK: 'all' }, timeoutMs: 120_000 })
  if (run.code === 0) throw new Error(`the ${runtime} program did not fail: ${run.output}`)
  const trace = run.stderr.replace(/\n$/, '')
  if (!trace.startsWith('starting\n') || trace.split('\n').length < 5) throw new Error(`unexpected ${runtime} output: ${run.stderr}`)
  return trace
}
