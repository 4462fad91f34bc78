import fs from 'node:fs'

// Files an operator's option names (a CA bundle, a key, a secret, a header list) are read at
// container start, in the plugin process that serves every container. Whatever the path
// points at, the read must end soon and small: a FIFO would block open() until a writer came
// (in the thread pool, which four such files use up, and with it every fs call of the plugin),
// and /dev/zero or /dev/urandom would be read until the heap is gone. So the file is opened
// non-blocking only once stat says it is a regular file, and read no further than its bound.

// What stat says a path is, for the error.
function whatItIs (stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory'
  if (stat.isFIFO()) return 'a FIFO'
  if (stat.isCharacterDevice()) return 'a character device'
  if (stat.isBlockDevice()) return 'a block device'
  if (stat.isSocket()) return 'a socket'
  return 'not a regular file'
}

async function checkRegular (stat: () => Promise<fs.Stats>): Promise<fs.Stats> {
  let stats: fs.Stats
  try {
    stats = await stat()
  } catch (err) {
    throw new Error((err as NodeJS.ErrnoException).code ?? 'cannot stat it', { cause: err })
  }
  if (!stats.isFile()) throw new Error(`${whatItIs(stats)}, not a regular file`)
  return stats
}

// Throws an Error whose message is the problem alone (ENOENT, "a FIFO, not a regular file", ...);
// the caller names the option.
export async function readBoundedFile (path: string, maxBytes: number): Promise<Buffer> {
  // stat first: opening a device can act on it (a tape rewinds, a watchdog arms), so only what
  // is a regular file is opened at all; fstat then checks what was opened, which may have been
  // swapped in between.
  await checkRegular(async () => await fs.promises.stat(path))
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY)
  } catch (err) {
    throw new Error((err as NodeJS.ErrnoException).code ?? 'cannot open it', { cause: err })
  }
  try {
    const stat = await checkRegular(async () => await handle.stat())
    // The size fstat gives is only a hint (a file in /proc says 0, a log may grow): the read
    // itself stops one byte past the bound, which tells "too large" from "exactly the bound".
    // The buffer starts at the size fstat gives, so a thousand containers starting at once with
    // small files do not each hold a whole bound's worth.
    if (stat.size > maxBytes) throw new Error(`${stat.size} bytes, more than ${maxBytes}`)
    let buffer = Buffer.alloc(Math.min(Math.max(stat.size + 1, 4096), maxBytes + 1))
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new Error(`more than ${maxBytes} bytes`)
        const grown = Buffer.alloc(Math.min(buffer.length * 2, maxBytes + 1))
        buffer.copy(grown)
        buffer = grown
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return buffer.subarray(0, length)
  } finally {
    await handle.close()
  }
}
