/**
 * Grading part 2: the PDC over TCP (`<server> <port> <command>`).
 *
 * @module
 */
import { startPmuServer } from "../tcp/pmu.ts";
import type { GradablePart } from "./part.ts";
import { gradePmuRuns, type StartPmu } from "./pmu_runs.ts";

const start: StartPmu = ({ count, split, seed, flood, log }) =>
  startPmuServer({ hostname: "127.0.0.1", port: 0, count, split, seed, flood, log });

export const part2: GradablePart = {
  name: "part2",
  prototype: "<server> <port> <command>",
  summary: "the PDC prints each PMU message on its own line, and the whole flood",
  run: (ctx) => gradePmuRuns(ctx, start, true),
};
