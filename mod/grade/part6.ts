/**
 * Grading part 6: the PDC over WebSocket (`<server> <port> <command>`), the
 * same runs as part 2 against the WebSocket PMU (binary frames, as the
 * course's server sent).
 *
 * @module
 */
import { startWsPmu } from "../ws/ws_pmu.ts";
import type { GradablePart } from "./part.ts";
import { gradePmuRuns, type StartPmu } from "./pmu_runs.ts";

const start: StartPmu = ({ count, seed, flood, log }) =>
  startWsPmu({ hostname: "127.0.0.1", port: 0, count, seed, flood, log });

export const part6: GradablePart = {
  name: "part6",
  prototype: "<server> <port> <command>",
  summary: "the WebSocket PDC prints each message on its own line, and the whole flood",
  run: (ctx) => gradePmuRuns(ctx, start, false),
};
