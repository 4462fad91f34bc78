// How lines become events: a matcher says, line by line, whether a line joins the event before
// it or begins the next one. `multiline-pattern` gives the first line of every event; the
// presets know the traces of the common runtimes as small state machines, in the manner of
// Google's fluent-plugin-detect-exceptions (which Fluent Bit's multiline parsers follow): each
// state lists the lines that may come next in a trace, and any other line begins a new event.
// They were written against what java 17, python 3.11, node 20 and go 1.2x print, which
// test/events/multiline.test.ts replays through dockerd.

export interface LineMatcher {
  // The state of the event once `text` joins it in `state`, or NEW when `text` begins the next.
  join: (state: number, text: string) => number
  // The state of the event `text` begins.
  begin: (text: string) => number
}

export const NEW = -1
// A plain line: one that is not (yet) part of a trace.
export const LINE = 0
// The last line of a trace: the event is complete and is sent at once.
export const END = 1

export const MULTILINE_PRESETS = ['java', 'python', 'go', 'node'] as const
export type MultilinePreset = typeof MULTILINE_PRESETS[number]

interface Rule {
  readonly when: RegExp
  readonly next: string
}

interface Preset {
  // Lines that begin a trace. Each also joins a plain line before it: the message a logger
  // writes about the error (logback, log4j, Python's logging, Go's log.Panic).
  readonly begins: readonly Rule[]
  // What may follow in each of the preset's states; `line` is a plain line's.
  readonly joins: Readonly<Record<string, readonly Rule[]>>
}

// `Exception in thread "main" java.lang.IllegalStateException: ...`, `java.io.IOException`,
// `kotlin.NotImplementedError: ...`.
const JAVA_HEADER = /^(?:Exception in thread "[^"]*" )?(?:[A-Za-z_$][\w$]*\.)+[\w$]*(?:Exception|Error|Throwable)(?::|$)/
const STACK_FRAME = /^\s+at /
const PYTHON_TRACEBACK = /^(?:\s*\+ Exception Group )?Traceback \(most recent call last\):$/
const PYTHON_CHAIN = /^(?:During handling of the above exception, another exception occurred|The above exception was the direct cause of the following exception):$/

const PRESETS: Readonly<Record<MultilinePreset, Preset>> = {
  java: {
    begins: [{ when: JAVA_HEADER, next: 'trace' }],
    joins: {
      // The header of a throwable whose name says nothing is a plain line until its first frame.
      line: [{ when: STACK_FRAME, next: 'trace' }],
      trace: [
        { when: STACK_FRAME, next: 'trace' },
        { when: /^\s*(?:Caused by|Suppressed|Wrapped by): /, next: 'trace' },
        { when: /^\s*\.\.\. \d+ (?:more|common frames omitted)$/, next: 'trace' },
      ],
    },
  },
  python: {
    begins: [{ when: PYTHON_TRACEBACK, next: 'traceback' }],
    joins: {
      // Frames, source lines and their ^^^ markers, exception groups: all indented.
      traceback: [{ when: /^\s/, next: 'traceback' }, { when: /^[A-Za-z_][\w.]*(?::.*)?$/, next: 'raised' }],
      // A chained exception follows its cause after a blank line and a sentence.
      raised: [{ when: /^$/, next: 'chain' }, { when: PYTHON_CHAIN, next: 'chain' }],
      chain: [{ when: /^$/, next: 'chain' }, { when: PYTHON_CHAIN, next: 'chain' }, { when: PYTHON_TRACEBACK, next: 'traceback' }],
    },
  },
  go: {
    begins: [{ when: /^(?:panic: |fatal error: |SIG[A-Z]+: |goroutine \d+ .*\]:$)/, next: 'trace' }],
    joins: {
      // Blank lines between goroutines, indented file lines and re-panics, goroutine headers,
      // function frames, the signal and register lines of a crash, and `go run`'s exit status.
      trace: [{
        when: /^(?:$|\s|goroutine \d+ .*\]:$|created by |\[(?:signal |originating from goroutine )|PC=0x|[^\s(]+\(.*\)$|\.\.\.additional frames elided\.\.\.$|[a-z0-9]{2,6}\s+0x[0-9a-f]+$|exit status \d+$)/,
        next: 'trace',
      }],
    },
  },
  node: {
    // An uncaught error: where it was thrown, the source line, a caret, a blank line, the error
    // with its stack, then a blank line and the version.
    begins: [{ when: /^(?:\/|[A-Za-z]:\\|file:\/\/|node:)\S*:\d+$/, next: 'source' }],
    joins: {
      // A logged error (console.error(err)) is a plain line until its first frame.
      line: [{ when: STACK_FRAME, next: 'stack' }],
      source: [{ when: /^/, next: 'caret' }],
      caret: [{ when: /^\s*\^+\s*$/, next: 'gap' }],
      gap: [{ when: /^$/, next: 'gap' }, { when: /^\S/, next: 'stack' }],
      // Frames, `... N lines matching cause stack trace ...`, properties and [cause] in braces.
      stack: [{ when: /^(?:\s|\}$|\(Use `node --trace-uncaught)/, next: 'stack' }, { when: /^$/, next: 'tail' }],
      tail: [{ when: /^$/, next: 'tail' }, { when: /^Node\.js v\d/, next: 'end' }],
    },
  },
}

interface CompiledRule {
  readonly when: RegExp
  readonly next: number
}

function firstMatch (rules: readonly CompiledRule[], text: string): number {
  for (const rule of rules) if (rule.when.test(text)) return rule.next
  return NEW
}

// The presets chosen, together: their states apart, their begins and plain-line rules in the
// order given.
export function presetMatcher (names: readonly MultilinePreset[]): LineMatcher {
  const ids = new Map<string, number>([['line', LINE], ['end', END]])
  const idOf = (preset: string, state: string): number => {
    const key = state === 'line' || state === 'end' ? state : `${preset}.${state}`
    let id = ids.get(key)
    if (id === undefined) {
      id = ids.size
      ids.set(key, id)
    }
    return id
  }
  const table: CompiledRule[][] = [[], []]
  const begins: CompiledRule[] = []
  for (const name of names) {
    const preset = PRESETS[name]
    const compile = (rules: readonly Rule[]): CompiledRule[] => rules.map((r) => ({ when: r.when, next: idOf(name, r.next) }))
    for (const [state, rules] of Object.entries(preset.joins)) {
      const id = idOf(name, state)
      table[id] = [...(table[id] ?? []), ...compile(rules)]
    }
    const own = compile(preset.begins)
    begins.push(...own)
    table[LINE] = [...(table[LINE] ?? []), ...own]
  }
  return {
    join: (state, text) => firstMatch(table[state] ?? [], text),
    begin: (text) => {
      const state = firstMatch(begins, text)
      return state === NEW ? LINE : state
    },
  }
}

// `multiline-pattern`: a line that matches begins an event; any other joins the one before it.
export function patternMatcher (pattern: RegExp): LineMatcher {
  return {
    join: (_state, text) => pattern.test(text) ? NEW : LINE,
    begin: () => LINE,
  }
}
