// kafkajs-snappy ships no types; this is the codec factory kafkajs expects in CompressionCodecs.
declare module 'kafkajs-snappy' {
  interface Codec {
    compress: (encoder: { buffer: Buffer }) => Promise<Buffer>
    decompress: (buffer: Buffer) => Promise<Buffer>
  }
  const createCodec: () => Codec
  export = createCodec
}
