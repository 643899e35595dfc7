/**
 * Line-by-line reading of a child process's output, with deadlines.
 *
 * @module
 */

/** The shortest pause between two runs of a {@link LineReader.watch} predicate, ms. */
export const JUDGE_GAP_MS = 50;

/**
 * Reads a byte stream into lines as they arrive and lets a caller wait for a
 * line. Used by the tests (to watch the CLI) and by `grade` (to watch the
 * graded program). With `maxBytes`, keeps at most that much and then drains
 * the rest, setting `capped` (and calling `onCap`) so the owner can stop the
 * writer.
 */
export class LineReader {
  readonly lines: string[] = [];
  text = "";
  done: Promise<void>;
  #waiters = new Set<() => void>();
  #ended = false;

  /** Bytes received in all (including any past the cap). */
  bytes = 0;
  /** True once more than `maxBytes` arrived. */
  capped = false;
  readonly #maxBytes: number;
  readonly #onCap?: () => void;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;

  constructor(
    stream: ReadableStream<Uint8Array>,
    opts: { maxBytes?: number; onCap?: () => void } = {},
  ) {
    this.#maxBytes = opts.maxBytes ?? Infinity;
    this.#onCap = opts.onCap;
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let partial = "";
    // Each byte is decoded once and each piece of text scanned for line breaks once: a stream
    // of one endless line costs what a stream of short ones does.
    const add = (s: string) => {
      this.text += s;
      let from = 0;
      for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", from)) {
        this.lines.push(partial + s.slice(from, i));
        partial = "";
        from = i + 1;
      }
      partial += s.slice(from);
      this.#wake();
    };
    const reader = this.#reader = stream.getReader();
    try {
      while (true) {
        const next = await reader.read();
        if (next.done) break;
        let chunk = next.value;
        this.bytes += chunk.length;
        if (this.capped) continue;
        const room = this.#maxBytes - (this.bytes - chunk.length);
        if (chunk.length > room) {
          chunk = chunk.subarray(0, Math.max(0, room));
          this.capped = true;
          this.#onCap?.();
        }
        add(decoder.decode(chunk, { stream: true }));
      }
    } finally {
      const rest = decoder.decode();
      if (rest) add(rest);
      if (partial) this.lines.push(partial);
      this.#ended = true;
      this.#wake();
    }
  }

  /**
   * Stop reading: what arrived stays, `done` resolves (for a stream whose
   * write end a stray process may hold open forever).
   */
  cancel(): void {
    this.#reader?.cancel().catch(() => {});
  }

  #wake() {
    for (const w of this.#waiters) w();
  }

  /**
   * Wait until a line matches `pattern` (searching lines from `from` on) and
   * return its match. Fails after `timeoutMs` or when the stream ends first,
   * showing what did arrive.
   */
  waitFor(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = this.lines[i].match(pattern);
          if (m) return finish(() => resolve(m));
        }
        if (this.#ended) {
          finish(() =>
            reject(new Error(`stream ended without a line matching ${pattern}; got:\n${this.text}`))
          );
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(`no line matching ${pattern} within ${timeoutMs} ms; got:\n${this.text}`),
            )
          ),
        timeoutMs,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        f();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /**
   * Wait until `pred(lines)` holds; false if the stream ends or `timeoutMs`
   * passes first. Never rejects: for callers that want a verdict. Judged as
   * {@link watch} judges.
   */
  async until(pred: (lines: string[]) => boolean, timeoutMs: number): Promise<boolean> {
    return (await this.watch(pred, { timeoutMs })).end === "held";
  }

  /**
   * Wait until `pred(lines)` holds ("held"), the stream ends without it
   * ("ended"), `timeoutMs` passes ("timeout"), or `pred` has taken more than
   * `budgetMs` in all ("budget"). A predicate reads everything received, so
   * it is not run at every chunk (a program printing 400,000 lines one by
   * one would make that quadratic): only once the text has doubled since its
   * last run, or after a pause of ten times what that run cost (at least
   * {@link JUDGE_GAP_MS}), and at the end of the stream. So judging costs a
   * bounded share of the time, however the output arrives. `now` (ms) is the
   * clock `budgetMs` is measured with.
   */
  watch(
    pred: (lines: string[]) => boolean,
    opts: { timeoutMs: number; budgetMs?: number; now?: () => number },
  ): Promise<{ end: "held" | "ended" | "timeout" | "budget"; spentMs: number }> {
    const now = opts.now ?? (() => performance.now());
    const budget = opts.budgetMs ?? Infinity;
    let spent = 0, judgedAt = -Infinity, judgedBytes = -1, gap = JUDGE_GAP_MS;
    let later: ReturnType<typeof setTimeout> | undefined;
    return new Promise((resolve) => {
      const finish = (end: "held" | "ended" | "timeout" | "budget") => {
        clearTimeout(timer);
        clearTimeout(later);
        this.#waiters.delete(check);
        resolve({ end, spentMs: spent });
      };
      const judge = () => {
        const t0 = now();
        const held = pred(this.lines);
        const cost = now() - t0;
        spent += cost;
        judgedAt = now();
        judgedBytes = this.text.length;
        gap = Math.max(JUDGE_GAP_MS, 10 * cost);
        if (held) finish("held");
        else if (spent > budget) finish("budget");
        else if (this.#ended) finish("ended");
      };
      const check = () => {
        if (this.text.length === judgedBytes && !this.#ended) return;
        const doubled = this.text.length >= 2 * Math.max(judgedBytes, 0);
        if (doubled || this.#ended || now() - judgedAt >= gap) return judge();
        later ??= setTimeout(() => {
          later = undefined;
          check();
        }, Math.max(0, judgedAt + gap - now()));
      };
      const timer = setTimeout(() => finish("timeout"), opts.timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /**
   * Wait until everything received so far, partial last line included, matches `pattern`
   * (for output that does not end its lines, e.g. what `openssl s_server` received).
   */
  async waitForText(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const ok = await this.until(() => pattern.test(this.text), timeoutMs);
    if (!ok) {
      throw new Error(
        `no ${pattern} ${this.#ended ? "before the stream ended" : `within ${timeoutMs} ms`}; ` +
          `got:\n${this.text}`,
      );
    }
  }

  /** Wait until at least `n` lines have arrived. */
  async waitForLines(n: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < n) {
      if (this.#ended) throw new Error(`stream ended after ${this.lines.length} of ${n} lines`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `only ${this.lines.length} of ${n} lines within ${timeoutMs} ms:\n${this.text}`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.#waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
    return this.lines.slice(0, n);
  }
}
