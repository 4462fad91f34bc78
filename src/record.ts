// The record and its vocabulary: what one line of a container is, from the partial assembler to
// the sinks. time_nano is an int64 of nanoseconds (about 1.7e18, past 2^53): it is carried as
// its two 32-bit halves, which is what the FIFO decoder yields and the store writes, and becomes
// a bigint only where a sink needs one. The line stays bytes, since a container may write
// anything, invalid UTF-8 included.

export type StreamName = 'stdout' | 'stderr'

// time_nano as unsigned 32-bit halves of its two's complement.
export interface TimeHalves {
  readonly hi: number
  readonly lo: number
}

export function timeNanoOf (time: TimeHalves): bigint {
  return BigInt.asIntN(64, (BigInt(time.hi) << 32n) | BigInt(time.lo))
}

export function timeHalves (value: bigint): TimeHalves {
  const v = BigInt.asUintN(64, value)
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) }
}

// What a container's records say about it, worked out once at StartLogging from the daemon's
// Info and the container's options.
export interface ContainerMeta {
  readonly id: string
  // Without the daemon's leading slash.
  readonly name: string
  readonly imageName: string
  readonly imageId: string
  // The labels and environment variables the labels / env options select for every record.
  readonly labels: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
  readonly tag: string | undefined
  readonly hostName: string
  // What name templates draw on besides the fields above, as docker's own tag template does
  // (daemon/logger/loginfo.go): every label, the daemon's name and the command.
  readonly allLabels: Readonly<Record<string, string>>
  readonly daemonName: string
  readonly command: string
}

// One line as the container wrote it: the daemon's 16 KiB chunks joined again.
export interface LogLine {
  readonly stream: StreamName
  readonly time: TimeHalves
  readonly line: Buffer
  // false for a line that ended without a newline (the container's last bytes) or was cut at
  // partial-max-bytes; docker logs then gives back no '\n' after it.
  readonly complete: boolean
}

// A line once it is stored: what every sink receives.
export interface LogRecord extends LogLine {
  // Per container, from the store: orders records that share a timestamp. For an event, its
  // first line's.
  readonly sequence: number
  readonly container: ContainerMeta
  // Set when multiline grouping made this record of one or more stored lines (src/events/).
  readonly event?: EventLines
  // Set when parse=json found a JSON object in the line (src/events/json.ts).
  readonly json?: JsonFields
}

// The stored lines an event record stands for. Its line is theirs joined by '\n'; its time and
// sequence are its first line's.
export interface EventLines {
  readonly lines: number
  // The sequence of its last line.
  readonly last: number
  // The stored sequences [ackFrom, ackTo) whose delivery this record settles. The records of one
  // sink tile the sequences in queue order, so a position is still "everything before it is
  // final": a range ends where the first line of an event still being grouped begins (the
  // other stream's, when both write at once), and the later record takes up the rest.
  readonly ackFrom: number
  readonly ackTo: number
}

// What parse=json puts into a record's JSON, as bytes ready to be written.
export interface JsonFields {
  // The object as JSON text, braces included, written after the record's own fields: as the
  // value of `under` ("key":), or merged (its members alone; empty when it has none).
  readonly members: Buffer
  readonly under: Buffer | undefined
  // From the logger's own fields, when parse-json-promote asks: the message (UTF-8), the
  // "log":{"level":...} member, and the time for @timestamp (the plugin's goes to
  // event.created).
  readonly message: Buffer | undefined
  readonly level: Buffer | undefined
  readonly time: TimeHalves | undefined
  // Fields the record's own hid were left out of the members, and the message is the logger's:
  // the whole line is kept in event.original so that nothing is lost.
  readonly original: boolean
}
