// Errors a person sees from `npm run services:up` or `npm test`: each says what is missing and
// what to do, so the CLI prints the message alone, never a stack.
export const ServicesErrorCode = {
  NO_JAVA: 'LOGRELAY_ERR_SERVICES_NO_JAVA',
  NO_JDK: 'LOGRELAY_ERR_SERVICES_NO_JDK',
  NO_MAVEN: 'LOGRELAY_ERR_SERVICES_NO_MAVEN',
  MAVEN_UNREACHABLE: 'LOGRELAY_ERR_SERVICES_MAVEN_UNREACHABLE',
  MAVEN_FAILED: 'LOGRELAY_ERR_SERVICES_MAVEN_FAILED',
  PORT_TAKEN: 'LOGRELAY_ERR_SERVICES_PORT_TAKEN',
  NOT_READABLE: 'LOGRELAY_ERR_SERVICES_NOT_READABLE',
  START_FAILED: 'LOGRELAY_ERR_SERVICES_START_FAILED',
  NOT_ANSWERING: 'LOGRELAY_ERR_SERVICES_NOT_ANSWERING',
  LOCKED: 'LOGRELAY_ERR_SERVICES_LOCKED',
  NOT_OURS: 'LOGRELAY_ERR_SERVICES_NOT_OURS',
} as const

export type ServicesErrorCode = (typeof ServicesErrorCode)[keyof typeof ServicesErrorCode]

export class ServicesError extends Error {
  readonly code: ServicesErrorCode

  constructor (code: ServicesErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ServicesError'
    this.code = code
  }
}
