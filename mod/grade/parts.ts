/**
 * The gradable parts, in the lab's order. Each lives in its own module.
 *
 * @module
 */
import type { GradablePart } from "./part.ts";

export const PARTS: GradablePart[] = [];
