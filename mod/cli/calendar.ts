/**
 * The course calendar's options (`course init`, `course calendar`, `course
 * extend`, `course export --as-of`): a time zone, times in ISO 8601 read in
 * that zone (mod/service/calendar.ts refuses the local times a clock change
 * makes ambiguous or skips), an attempt limit, a part.
 *
 * @module
 */
import { type Args, optionalNum, type Options, str } from "./command.ts";
import { UsageError } from "../errors.ts";
import { type CalendarChange, parseTime, parseZone } from "../service/calendar.ts";
import {
  type Calendar,
  DEFAULT_CALENDAR,
  isKind,
  type Kind,
  KINDS,
} from "../service/store/store.ts";

const TIME_HELP = "ISO 8601, local in the course's zone (2021-11-17T23:55) or with an offset";

export const CALENDAR_OPTIONS = {
  timezone: {
    type: "string",
    arg: "ZONE",
    help:
      `init, calendar: the course's time zone, an IANA name (default: ${DEFAULT_CALENDAR.timezone})`,
  },
  opens: {
    type: "string",
    arg: "T",
    help: `init, calendar: when submissions open (${TIME_HELP}; none: already open)`,
  },
  closes: {
    type: "string",
    arg: "T",
    help: `init, calendar: when they close (${TIME_HELP}; none: never)`,
  },
  "attempt-limit": {
    type: "string",
    arg: "N",
    help:
      `init, calendar: attempts per student and part (default: ${DEFAULT_CALENDAR.attemptLimit}; ` +
      "a grader failure is none)",
  },
  part: {
    type: "string",
    arg: "KIND",
    help: "calendar, extend: one part's own window or extension (default: the whole course)",
  },
  until: { type: "string", arg: "T", help: `extend: the student's own close (${TIME_HELP})` },
  attempts: { type: "string", arg: "N", help: "extend: attempts more than the limit" },
  "as-of": {
    type: "string",
    arg: "T",
    help: "export: the grade book as it stood then (default: now)",
  },
} satisfies Options;

/** `--part KIND`, or null for the whole course. */
export function partOpt(args: Args): Kind | null {
  const raw = str(args, "part");
  if (raw === undefined) return null;
  if (!isKind(raw)) throw new UsageError(`--part: '${raw}' is not a part (${KINDS.join(", ")})`);
  return raw;
}

/** A time option read in `zone`: undefined when not given, null for `none` if allowed. */
export function timeOpt(args: Args, name: string, zone: string): number | null | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  if (raw === "none") return null;
  try {
    return parseTime(raw, zone);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

/** What `--opens`, `--closes` and `--attempt-limit` change (given in `zone`). */
export function calendarChange(args: Args, zone: string): CalendarChange {
  const change: CalendarChange = {};
  const opens = timeOpt(args, "opens", zone);
  const closes = timeOpt(args, "closes", zone);
  const limit = optionalNum(args, "attempt-limit", { integer: true, min: 1, max: 1_000_000 });
  if (opens !== undefined) change.opens = opens;
  if (closes !== undefined) change.closes = closes;
  if (limit !== undefined) change.attemptLimit = limit;
  return change;
}

/** `course init`'s calendar: the zone, then the times read in it, the limit. */
export function calendarFrom(args: Args): Calendar {
  const raw = str(args, "timezone");
  const timezone = raw === undefined ? DEFAULT_CALENDAR.timezone : parseZone(raw);
  return checkCalendar({ ...DEFAULT_CALENDAR, timezone, ...calendarChange(args, timezone) });
}

/** A calendar whose windows each close after they open, else a UsageError. */
export function checkCalendar(cal: Calendar): Calendar {
  const windows: [string, number | null, number | null][] = [
    ["the course", cal.opens, cal.closes],
    ...KINDS.map((k): [string, number | null, number | null] => {
      const p = cal.parts[k] ?? {};
      return [
        k,
        p.opens === undefined ? cal.opens : p.opens,
        p.closes === undefined ? cal.closes : p.closes,
      ];
    }),
  ];
  for (const [what, opens, closes] of windows) {
    if (opens !== null && closes !== null && closes <= opens) {
      throw new UsageError(`${what} would close before it opens: give --closes after --opens`);
    }
  }
  return cal;
}
