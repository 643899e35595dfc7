/**
 * CLI of the UDP parts: `hello-send` (Code A) and `hello-recv` (Code B) of
 * part 1.1; `pmu-udp` (run_dual_server) and `pdc-udp` (the PDC and the
 * 60-run experiment) of part 3.
 *
 * @module
 */
import {
  defineCommand,
  flag,
  numOpt,
  optionalNum,
  parseChoice,
  parsePort,
  portOpt,
  str,
} from "../command.ts";
import { errorMessage, RunError, UsageError } from "../../errors.ts";
import { serveLogged, serveUntilStopped } from "../serve.ts";
import { LOG_OPTIONS } from "../log.ts";
import { listenOptions, peerOptions, portOption } from "../options.ts";
import { CAPTURE_OPTIONS, captureExchange } from "../capture.ts";
import { hostPort, ipFamily, resolveHost } from "../../net/address.ts";
import { MAX_SEED, randomSeed } from "../../random.ts";
import { sendHello, startHelloReceiver } from "../../udp/hello.ts";
import { pdcTargets, resetExchange, runExperiment } from "../../udp/pdc_udp.ts";
import { startPmuUdp, UDP_FAMILIES, type UdpFamily } from "../../udp/pmu_udp.ts";
import { type AckSeparator, formatExperiment, MAX_RESET, summarize } from "../../udp/reset.ts";

export const helloSend = defineCommand({
  name: "hello-send",
  summary: "send one UDP datagram (Code A)",
  part: "1.1",
  positionals: [{
    name: "message",
    help: "text to send (default: 'Hello, Romeo! ')",
    optional: true,
  }],
  options: peerOptions("localhost", 50007, "UDP", "receiver"),
  example: "socklab hello-send 'Hello, Romeo! '",
  async run(args, io) {
    const port = portOpt(args, "port", false);
    const host = str(args, "host");
    try {
      await sendHello(host, port, args.positionals[0] ?? "Hello, Romeo! ");
    } catch (e) {
      throw new RunError(`cannot send to ${hostPort(host, port)}: ${errorMessage(e)}`);
    }
    io.out("Message sent");
    return 0;
  },
});

export const helloRecv = defineCommand({
  name: "hello-recv",
  summary: "receive UDP datagrams and show their sender (Code B)",
  part: "1.1",
  positionals: [],
  options: listenOptions("0.0.0.0", 50007, "UDP"),
  description:
    `For every datagram prints 'From: <address>:<port>' and 'Received: <text>' on stdout.`,
  example: "socklab hello-recv --port 50007",
  run(args, io) {
    const port = portOpt(args);
    const server = startHelloReceiver({
      hostname: str(args, "host"),
      port,
      onDatagram: (from, text) => {
        io.out(`From: ${from}`);
        io.out(`Received: ${text}`);
      },
    });
    return serveUntilStopped(io, server);
  },
});

/** The addresses `pmu-udp --host` names, per family (none given: the wildcards). */
async function serverHosts(host: string | undefined): Promise<{ 4?: string; 6?: string }> {
  if (host === undefined) return { 4: "0.0.0.0", 6: "::" };
  if (host.toLowerCase() === "localhost") return { 4: "127.0.0.1", 6: "::1" };
  const lit = ipFamily(host);
  if (lit) return { [lit]: host };
  let all;
  try {
    all = await resolveHost(host);
  } catch (e) {
    throw new RunError(errorMessage(e));
  }
  return {
    4: all.find((a) => a.family === 4)?.address,
    6: all.find((a) => a.family === 6)?.address,
  };
}

export const pmuUdp = defineCommand({
  name: "pmu-udp",
  summary: "lossy dual-stack UDP PMU answering RESET:<n> (run_dual_server)",
  part: "3 server",
  positionals: [],
  options: {
    host: {
      type: "string",
      arg: "HOST",
      help:
        "address to listen on (default: 0.0.0.0 and ::, every interface; localhost: 127.0.0.1 and ::1)",
    },
    port: portOption(5004, "UDP"),
    family: {
      type: "string",
      default: "alternate",
      arg: "alternate|4|6|dual",
      help: "alternate: IPv4 only for --period s, then IPv6 only, and so on; 4, 6, dual: fixed",
    },
    period: {
      type: "string",
      default: "10",
      arg: "SECONDS",
      help: "how long each family is served with --family alternate",
    },
    drop: {
      type: "string",
      default: "0.5",
      arg: "P",
      help: "probability that an answer is lost (0..1)",
    },
    "drop-first": {
      type: "string",
      default: "0",
      arg: "N",
      help: "also lose the answers to the first N datagrams (forces retransmission)",
    },
    seed: {
      type: "string",
      arg: "N",
      help: "seed of the losses and offsets, for repeatable runs (default: random, logged)",
    },
    "ack-sep": {
      type: "string",
      default: ":",
      arg: ":|=",
      help: "answer OFFSET:<x> (the course server) or OFFSET=<x> (the handout)",
    },
    ...LOG_OPTIONS,
  },
  description:
    `Answers 'RESET:<n>' (0 <= n <= ${MAX_RESET}) with 'OFFSET:<x>', x uniform in 0..n, and
anything else with 'Wrong command.'; loses each answer with probability --drop.
Logs every datagram on stderr like the course server: 'Received <data> from
<addr>', then 'Ack sent!' or 'Ignoring message from <addr>' (answer dropped, or
an IPv4 sender while only IPv6 is served), and the family at each switch.`,
  example: "socklab pmu-udp --port 5004 --family alternate --period 10 --drop 0.5",
  async run(args, io) {
    const port = portOpt(args);
    const family = parseChoice(str(args, "family"), "--family", UDP_FAMILIES) as UdpFamily;
    const period = numOpt(args, "period", { min: 0.05, max: 86_400 });
    const drop = numOpt(args, "drop", { min: 0, max: 1 });
    const dropFirst = numOpt(args, "drop-first", { min: 0, integer: true });
    const seed = optionalNum(args, "seed", { integer: true, min: 0, max: MAX_SEED }) ??
      randomSeed();
    const ackSep = parseChoice(str(args, "ack-sep"), "--ack-sep", [":", "="]) as AckSeparator;
    const hostArg = str(args, "host");
    const hosts = await serverHosts(hostArg);
    const need: (4 | 6)[] = family === "alternate"
      ? [4, 6]
      : family === "4"
      ? [4]
      : family === "6"
      ? [6]
      : [];
    for (const f of need) {
      if (!hosts[f]) {
        throw new UsageError(
          `--family ${family} needs an IPv${f} address, and --host ${hostArg} has none`,
        );
      }
    }
    if (family === "4") delete hosts[6];
    if (family === "6") delete hosts[4];
    const options = { hosts, port, family, period, drop, dropFirst, seed, ackSep };
    return serveLogged(args, io, (log) => startPmuUdp({ ...options, log }));
  },
});

export const pdcUdp = defineCommand({
  name: "pdc-udp",
  summary: "RESET over UDP with retransmission, on IPv4 and IPv6 at once",
  part: "3 client",
  positionals: [
    { name: "server", help: "server name or address (localhost: 127.0.0.1 and ::1)" },
    { name: "port", help: "server UDP port (the lab's is 5004)" },
  ],
  options: {
    command: { type: "string", default: "RESET:20", arg: "TEXT", help: "what to send" },
    timeout: {
      type: "string",
      default: "1",
      arg: "SECONDS",
      help: "wait this long for an acknowledgement before sending again",
    },
    "max-tries": {
      type: "string",
      arg: "N",
      help: "give up (exit 1) after N unanswered attempts (default: never)",
    },
    runs: {
      type: "string",
      arg: "N",
      help: "the lab's experiment: N exchanges in a row, then the statistics of the attempts",
    },
    loss: {
      type: "string",
      default: "0.5",
      arg: "P",
      help: "with --runs, the loss rate whose predicted mean 1/(1-p) is shown",
    },
    json: { type: "boolean", help: "print one JSON document instead of the human form" },
    ...CAPTURE_OPTIONS,
  },
  description: `Resolves every IPv4 and IPv6 address of <server>, opens a UDP socket per
family, sends the command to all of them at each attempt and waits --timeout
for 'OFFSET:<x>' or 'OFFSET=<x>' on either socket, retransmitting until one
comes. Prints the acknowledgement on stdout as received and 'attempts: <k>' on
stderr. Any other answer ('Wrong command.') is logged and is not an
acknowledgement.

With --runs N (Q20: N = 60): a progress line per run on stderr, then each run's
attempts, a histogram, the mean, the loss rate per attempt the runs imply
(p = 1 - 1/mean) and the mean a loss rate predicts (1/(1-p)).`,
  example: "socklab pdc-udp localhost 5004 --runs 60",
  async run(args, io) {
    const [server, portRaw] = args.positionals;
    const port = parsePort(portRaw, "<port>", false);
    const timeout = numOpt(args, "timeout", { min: 0.01, max: 3600 });
    const maxTries = optionalNum(args, "max-tries", { integer: true, min: 1 });
    const runs = optionalNum(args, "runs", { integer: true, min: 1, max: 100_000 });
    const loss = numOpt(args, "loss", { min: 0, max: 0.999 });
    const command = str(args, "command");
    const json = flag(args, "json");
    const targets = await pdcTargets(server);
    await using _capture = await captureExchange(args, io, {
      proto: "udp",
      port,
      host: targets[0]?.address,
    });
    const base = { targets, port, command, timeout, maxTries };

    if (runs === undefined) {
      const r = await resetExchange({ ...base, log: io.log });
      io.log(`attempts: ${r.attempts}`);
      if (json) io.out(JSON.stringify({ server, port, command, ...r }));
      else if (r.answer !== null) io.out(r.answer);
      if (r.answer === null) {
        throw new RunError(
          `no acknowledgement from ${hostPort(server, port)} after ${r.attempts} attempt(s)`,
        );
      }
      return 0;
    }

    io.log(
      `experiment: ${runs} run(s) of ${command} to ${
        targets.map((t) => hostPort(t.address, port)).join(", ")
      }, timeout ${timeout} s`,
    );
    const results = await runExperiment({
      ...base,
      runs,
      onRun: (r) =>
        io.log(
          `run ${r.run}/${runs}: ${r.answer ?? "no answer"} after ${r.attempts} attempt(s)`,
        ),
    });
    const summary = summarize(results, loss);
    if (json) {
      io.out(JSON.stringify(
        {
          server,
          port,
          addresses: targets.map((t) => t.address),
          command,
          timeout,
          maxTries: maxTries ?? null,
          results,
          ...summary,
        },
        null,
        2,
      ));
    } else {
      for (const line of formatExperiment(results, summary)) io.out(line);
    }
    if (summary.failed > 0) {
      throw new RunError(`${summary.failed} of ${runs} run(s) got no acknowledgement`);
    }
    return 0;
  },
});
