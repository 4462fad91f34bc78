import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

// The plugin under V8's sampling profiler, for `BENCH_PROFILE=1 npm run bench -- kafka`: Node 20
// does not take --cpu-prof from NODE_OPTIONS, and the plugin is started by path, so this entry
// starts the profiler in-process, runs the real main, and writes the profile
// (LOGRELAY_CPU_PROFILE) when the plugin exits after SIGTERM.
const out = process.env['LOGRELAY_CPU_PROFILE']
if (out === undefined) throw new Error('LOGRELAY_CPU_PROFILE names the file the profile is written to')
const session = new Session()
session.connect()
session.post('Profiler.enable')
session.post('Profiler.setSamplingInterval', { interval: 200 })
session.post('Profiler.start')
// A session in the same thread answers synchronously, so this completes inside 'exit'.
process.on('exit', () => {
  session.post('Profiler.stop', (err, result) => {
    if (err === null) writeFileSync(out, JSON.stringify(result.profile))
  })
})
await import('../src/main.js')
