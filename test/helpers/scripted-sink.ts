import type { Outcome, Sink } from '../../sinks/sink.js'
import type { LogRecord } from '../../src/record.js'

export type Script = (batch: readonly LogRecord[], call: number) => Outcome | Promise<Outcome>

// A sink whose answers a test writes: each send() is recorded with the sequences it carried,
// then answered by the script (which may also throw, as a buggy sink would).
export class ScriptedSink implements Sink {
  readonly name: string
  readonly sends: number[][] = []
  closed = false
  readonly #script: Script

  constructor (script: Script, name = 'scripted') {
    this.#script = script
    this.name = name
  }

  async send (batch: readonly LogRecord[]): Promise<Outcome> {
    this.sends.push(batch.map((r) => r.sequence))
    return await this.#script(batch, this.sends.length)
  }

  async close (): Promise<void> {
    this.closed = true
  }
}
