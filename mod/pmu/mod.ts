/**
 * The PMU protocol core (parts 2, 5, 6): commands, messages, the flood text and the PDC's
 * streaming splitter, what an answer in another protocol is (foreign.ts). Pure: no I/O.
 * @module
 */
export * from "./protocol.ts";
export * from "./flood.ts";
export * from "./splitter.ts";
export * from "./foreign.ts";
