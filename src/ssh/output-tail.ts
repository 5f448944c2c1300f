// Keeping the last N bytes of a stream: a host that prints without end (a noisy or hostile one) must not fill the
// worker's memory, nor push a failure past Temporal's payload limit. The tail is what explains a failure.

export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes dropped from the front so far. */
  dropped = 0;

  constructor(readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit) {
      const first = this.chunks[0]!;
      const over = this.size - this.limit;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        // Copy, so the dropped part of a large chunk can be freed.
        this.chunks[0] = Buffer.from(first.subarray(over));
        this.size -= over;
        this.dropped += over;
      }
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
