/**
 * The course's calendar: its time zone, when each part opens and closes,
 * the attempt limit, and a student's extension on top (the data is
 * store.ts's {@link Calendar} and {@link Extension}; rules.ts applies the
 * {@link SubmitWindow} this module works out). Times are read and shown in the
 * course's zone with the built-in Temporal (no hand-written offset
 * arithmetic): `2021-11-17T23:55` is Lausanne's 23:55, a local time the
 * autumn change makes happen twice or the spring change skips is refused
 * (Temporal's `disambiguation: "reject"`), asking for the offset. Pure: no
 * I/O, the clock is the caller's.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type {
  Calendar,
  Extension,
  Kind,
  PartCalendar,
  Refusal,
  SubmitWindow,
} from "./store/store.ts";

/** An IANA zone's canonical name (`europe/zurich` -> `Europe/Zurich`), or a UsageError. */
export function parseZone(name: string): string {
  try {
    return Temporal.Now.zonedDateTimeISO(name).timeZoneId;
  } catch {
    throw new UsageError(`'${name}' is not a time zone (an IANA name such as Europe/Zurich)`);
  }
}

/** ISO 8601 with an offset or `Z` (a bracketed zone may follow). */
const WITH_OFFSET = /T[\d:.,]+(Z|[+-]\d{2}(:?\d{2})?)(\[[^\]]*\])?$/i;

/**
 * An instant (epoch ms) from ISO 8601: with an offset or `Z` as it says,
 * else a local date and time in `zone`. A local time that happens twice
 * (clocks going back) or never (clocks going forward) is refused, with the
 * offsets to choose from; so is a date without a time.
 */
export function parseTime(text: string, zone: string): number {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(t)) {
    throw new UsageError(`'${text}' is not a date and time (ISO 8601: 2021-11-17T23:55)`);
  }
  if (WITH_OFFSET.test(t)) {
    try {
      return Temporal.Instant.from(t).epochMilliseconds;
    } catch {
      throw new UsageError(`'${text}' is not a date and time (ISO 8601: 2021-11-17T23:55+01:00)`);
    }
  }
  let local: Temporal.PlainDateTime;
  try {
    local = Temporal.PlainDateTime.from(t);
  } catch {
    throw new UsageError(`'${text}' is not a date and time (ISO 8601: 2021-11-17T23:55)`);
  }
  try {
    return local.toZonedDateTime(zone, { disambiguation: "reject" }).epochMilliseconds;
  } catch {
    const earlier = local.toZonedDateTime(zone, { disambiguation: "earlier" });
    const later = local.toZonedDateTime(zone, { disambiguation: "later" });
    const twice = earlier.toPlainDateTime().equals(local);
    throw new UsageError(
      twice
        ? `${t} happens twice in ${zone} (the clocks go back): give the offset, ` +
          `${t}${earlier.offset} or ${t}${later.offset}`
        : `${t} does not exist in ${zone} (the clocks go forward): give the offset, ` +
          `e.g. ${t}${earlier.offset}`,
    );
  }
}

/**
 * An instant in the course's zone, with the zone's name: `17 Nov 2021 23:55
 * CET`, or with `weekday`: `Wed 17 Nov 2021 23:55 CET`.
 */
export function formatTime(ms: number, zone: string, opts: { weekday?: boolean } = {}): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    weekday: opts.weekday ? "short" : undefined,
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: zone,
    timeZoneName: "short",
  }).formatToParts(ms);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const day = `${p.day} ${p.month} ${p.year} ${p.hour}:${p.minute} ${p.timeZoneName}`;
  return opts.weekday ? `${p.weekday} ${day}` : day;
}

/** An instant as ISO 8601 with the zone's offset then: `2021-11-17T23:55:00.000+01:00`. */
export function isoInZone(ms: number, zone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone)
    .toString({ timeZoneName: "never", smallestUnit: "millisecond" });
}

/** A duration in words, to the minute: `2 days 3 h`, `5 h 10 min`, `42 min`. */
export function countdown(ms: number): string {
  const min = Math.max(0, Math.ceil(ms / 60_000));
  const days = Math.floor(min / 1440);
  const h = Math.floor((min % 1440) / 60);
  const m = min % 60;
  if (days > 0) return `${days} day${days === 1 ? "" : "s"}${h ? ` ${h} h` : ""}`;
  if (h > 0) return `${h} h${m ? ` ${m} min` : ""}`;
  return `${m} min`;
}

/** A part's calendar: its own times and limit over the course's. */
export function partCalendar(cal: Calendar, kind: Kind): SubmitWindow {
  const own: PartCalendar = cal.parts[kind] ?? {};
  return {
    opens: own.opens === undefined ? cal.opens : own.opens,
    closes: own.closes === undefined ? cal.closes : own.closes,
    attemptLimit: own.attemptLimit ?? cal.attemptLimit,
  };
}

/** The extension that applies to `kind`: the student's for that part, else for all parts. */
export function extensionFor(extensions: readonly Extension[], kind: Kind): Extension | null {
  return extensions.find((e) => e.kind === kind) ?? extensions.find((e) => e.kind === null) ??
    null;
}

/**
 * One student's window for `kind`: the part's, closing at their extension's
 * `until` when that is later, with its attempts on top of the limit.
 * `extensions`: that student's.
 */
export function windowOf(
  cal: Calendar,
  kind: Kind,
  extensions: readonly Extension[],
): SubmitWindow {
  const w = partCalendar(cal, kind);
  const ext = extensionFor(extensions, kind);
  if (!ext) return w;
  const closes = ext.until === null || w.closes === null ? w.closes : Math.max(w.closes, ext.until);
  return { opens: w.opens, closes, attemptLimit: w.attemptLimit + ext.attempts };
}

/** The one sentence of a refusal by the calendar, or null for another refusal. */
export function calendarSentence(r: Refusal, zone: string, kind: Kind): string | null {
  const at = (ms: number) => formatTime(ms, zone, { weekday: true });
  switch (r.refused) {
    case "not-open":
      return `the submission system opens on ${at(r.opens)}`;
    case "closed":
      return `the submission system closed on ${at(r.closes)}`;
    case "limit":
      return `you have used all ${r.attemptLimit} attempts of ${kind}: ` +
        `if you need more, send an email to the TA team`;
    default:
      return null;
  }
}

/** Where a window stands at `now`: not open yet, open, or closed, and the next change. */
export function windowState(
  w: SubmitWindow,
  now: number,
): { state: "not-open" | "open" | "closed"; next: number | null } {
  if (w.opens !== null && now < w.opens) return { state: "not-open", next: w.opens };
  if (w.closes !== null && now >= w.closes) return { state: "closed", next: null };
  return { state: "open", next: w.closes };
}

/** A window in words in `zone`: `opens Thu 4 Nov 2021 23:55 CET, closes ..., 100 attempts`. */
export function windowText(w: SubmitWindow, zone: string): string {
  const at = (ms: number | null, none: string) =>
    ms === null ? none : formatTime(ms, zone, { weekday: true });
  return `opens ${at(w.opens, "now")}, closes ${at(w.closes, "never")}, ` +
    `${w.attemptLimit} attempts`;
}

/** The calendar as lines: the zone, the course's window, then each part's. */
export function calendarLines(cal: Calendar, kinds: readonly Kind[]): string[] {
  const course = { opens: cal.opens, closes: cal.closes, attemptLimit: cal.attemptLimit };
  const width = Math.max(...kinds.map((k) => k.length));
  return [
    `time zone ${cal.timezone}`,
    `${"course".padEnd(width)}  ${windowText(course, cal.timezone)}`,
    ...kinds.map((k) => {
      const own = cal.parts[k] && Object.keys(cal.parts[k]).length ? "  (its own)" : "";
      return `${k.padEnd(width)}  ${windowText(partCalendar(cal, k), cal.timezone)}${own}`;
    }),
  ];
}

/** What `course calendar` changes: a time (null: none) or a limit; absent: kept. */
export interface CalendarChange {
  opens?: number | null;
  closes?: number | null;
  attemptLimit?: number;
}

/** The calendar with `change` applied to the course's window, or to `kind`'s own. */
export function changeCalendar(cal: Calendar, kind: Kind | null, change: CalendarChange): Calendar {
  if (kind === null) return { ...cal, ...change };
  return { ...cal, parts: { ...cal.parts, [kind]: { ...cal.parts[kind], ...change } } };
}
