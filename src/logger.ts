import { pino, type Logger } from 'pino'

// The plugin's own log. dockerd captures a managed plugin's stdout into its own log, so plain
// JSON lines on stdout are what operators see with `journalctl -u docker`.
// Info.ContainerEnv holds every environment variable of the container, secrets included, and
// sink options carry credentials: none of them may reach the log.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

// A LOG_LEVEL pino does not know would throw before anything could say why; the settings check
// reports it instead (see main.ts), and meanwhile the log runs at info.
function level (requested: string | undefined): string {
  return (LOG_LEVELS as readonly string[]).includes(requested ?? '') ? requested as string : 'info'
}

export const log: Logger = pino({
  name: 'logrelay',
  level: level(process.env['LOG_LEVEL']),
  redact: {
    paths: [
      'info.ContainerEnv', '*.ContainerEnv', 'ContainerEnv',
      '*.password', '*.apiKey', '*.token', '*.headers', '*.authorization',
      'options.*-password', 'options.*-api-key', 'options.*-token', 'options.*-headers',
      'options.*-sasl-password', 'options.*-bearer-token',
    ],
    censor: '[redacted]',
  },
})
