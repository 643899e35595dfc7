/**
 * The deterministic flood text of `CMD_floodme`: plain ASCII that reads like an act of a
 * play, 57,344 bytes by default, any size on request. `floodText(n)` is a pure function of n,
 * and a shorter flood is a prefix of a longer one. It never contains `This is PMU data`, so a
 * PDC cannot mistake part of it for a message. With a `tag` function (grade's runs), every
 * speech ends with a tag of its own (` [k3x9qa]`), so that each run's flood is new.
 * @module
 */

/** The size of the default flood, in bytes (56 reads of 1,024 bytes). */
export const DEFAULT_FLOOD_BYTES = 57_344;

const ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"];
const PLACES = [
  "A switch room at the edge of the grid.",
  "The control centre. Screens glow.",
  "A substation in the rain.",
  "The loopback interface, very late at night.",
];
const SPEECHES: [string, string][] = [
  ["PMU", "I measure the phase of the grid and send it, sample after sample, to whoever asks."],
  ["PDC", "Then send it, and I will gather what you send, however the stream may cut it."],
  ["PMU", "I write each sample with its own call, yet the wire keeps no boundaries for me."],
  ["PDC", "I know. The bytes arrive in heaps or crumbs, and I must find the seams myself."],
  ["ROUTER", "Peace, both of you. I forward what I am given and remember nothing of it."],
  ["PMU", "Nothing? Not even where one sample ends and the next begins?"],
  ["ROUTER", "Segments, not samples. Ask the receiver; framing is its burden, not mine."],
  ["PDC", "Then let the numbers be my guide: a sample ends only where the next one starts."],
  ["KERNEL", "I hold your bytes in a buffer and hand them over in whatever size you read."],
  ["PMU", "Then read generously, friend, for I have a great deal to say before I close."],
  ["PDC", "And when you close, I will know the last sample was whole. Speak on."],
  [
    "CHORUS",
    "So stream the bytes from sender unto sink, and no man knows the boundary but the reader.",
  ],
];

function* playLines(tag?: () => string): Generator<string> {
  for (let act = 0;; act++) {
    yield `ACT ${ROMAN[act % ROMAN.length]}${act >= ROMAN.length ? `-${act + 1}` : ""}\n\n`;
    for (let scene = 1; scene <= 3; scene++) {
      const place = PLACES[(act + scene) % PLACES.length];
      yield `SCENE ${scene}. ${place}\n\nEnter PMU and PDC.\n\n`;
      for (let k = 0; k < SPEECHES.length; k++) {
        const [who, line] = SPEECHES[(k + act + scene) % SPEECHES.length];
        yield tag ? `${who}. ${line} [${tag()}]\n` : `${who}. ${line}\n`;
      }
      yield "\nExeunt.\n\n";
    }
  }
}

/**
 * The flood text of exactly `size` ASCII bytes (default {@link DEFAULT_FLOOD_BYTES}); with
 * `tag` (which must return plain ASCII without line breaks), each speech ends with its tag.
 */
export function floodText(size: number = DEFAULT_FLOOD_BYTES, tag?: () => string): string {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`bad flood size: ${size}`);
  const parts: string[] = [];
  let len = 0;
  for (const line of playLines(tag)) {
    if (len >= size) break;
    parts.push(line);
    len += line.length;
  }
  return parts.join("").slice(0, size);
}
