/**
 * CLI of part 5: `ca` (the lab's certificate authority), `secure-pmu` (the PMU of part 2
 * over TLS: the same server and session code) and `secure-pdc` (the course's Part5_PDC: the
 * PDC of part 2 over a verified TLS connection).
 *
 * @module
 */
import { type Args, defineCommand, flag, given, numOpt, portOpt, str } from "../command.ts";
import { UsageError } from "../../errors.ts";
import { listenOptions, peerOptions } from "../options.ts";
import { captureExchange } from "../capture.ts";
import { bindAddress, hostPort, ipFamily, ipv4Of, isValidHost } from "../../net/address.ts";
import { PDC_READ_OPTIONS, pdcReadSize, pmuServerOptions, runPdc, servePmu } from "../pmu.ts";
import { connectSecure, lenientClose, loadCaCert } from "../../tls/client.ts";
import { describeServerCert, loadIdentity, startSecurePmu } from "../../tls/server.ts";
import {
  caInit,
  DEFAULT_NAMES,
  describeCert,
  makeRequest,
  opensslDate,
  signRequest,
  validName,
} from "../../tls/ca.ts";

const ACTIONS = ["init", "request", "sign"] as const;
type Action = typeof ACTIONS[number];

/** Which options each action takes (any other given option is a usage error). */
const ACTION_OPTIONS: Record<Action, string[]> = {
  init: ["dir", "cn", "days", "force"],
  request: ["key", "csr", "cn"],
  sign: ["dir", "out", "days", "not-before", "not-after", "name", "force"],
};

function dateOpt(args: Args, name: string): string | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  const d = opensslDate(raw);
  if (!d) {
    throw new UsageError(`--${name}: '${raw}' is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)`);
  }
  return d;
}

export const ca = defineCommand({
  name: "ca",
  summary: "lab certificate authority: ca init | ca request | ca sign <csr>",
  part: "5",
  positionals: [
    { name: "action", help: "init, request or sign" },
    { name: "csr", help: "(sign) the certificate request to sign", optional: true },
  ],
  options: {
    dir: { type: "string", arg: "DIR", help: "(init, sign) the CA's directory (default: lab-ca)" },
    cn: {
      type: "string",
      arg: "NAME",
      help: "(init, request) common name (default: 'socklab lab CA' / localhost)",
    },
    days: {
      type: "string",
      arg: "N",
      help: "(init, sign) validity in days (default: 3650 for init, 365 for sign)",
    },
    force: {
      type: "boolean",
      help: "(init) replace an existing CA; (sign) replace an existing certificate",
    },
    key: {
      type: "string",
      arg: "FILE",
      help: "(request) private key, made (RSA 2048) unless it exists (default: pmu_key.pem)",
    },
    csr: { type: "string", arg: "FILE", help: "(request) request to write (default: pmu.csr)" },
    out: {
      type: "string",
      arg: "FILE",
      help: "(sign) certificate to write (default: the request's name with .crt)",
    },
    "not-before": {
      type: "string",
      arg: "DATE",
      help: "(sign) start of validity, YYYY-MM-DD[THH:MM:SSZ] UTC (default: now)",
    },
    "not-after": {
      type: "string",
      arg: "DATE",
      help: "(sign) end of validity, overrides --days",
    },
    name: {
      type: "string",
      arg: "NAME",
      multiple: true,
      help: `(sign) host name or IP address the certificate is for (default: ${
        DEFAULT_NAMES.join(", ")
      })`,
    },
  },
  description: `The course's signing service on your machine; openssl (on PATH, or
$SOCKLAB_OPENSSL) does the cryptography, without prompts.

  ca init [--dir D]                   make the CA: D/ca.key and the self-signed D/ca.crt
  ca request [--key K] [--csr R]      a 2048-bit RSA key K (kept if it exists) and a
             [--cn NAME]              certificate request R (the handout's openssl steps)
  ca sign <csr> [--dir D] [--out F]   an X.509 v3 server certificate for the request,
                                      subjectAltName localhost, 127.0.0.1, ::1

stdout: the files written, one a line; stderr: what they hold.`,
  example:
    "socklab ca init && socklab ca request --key CAMIPRO1_key.pem --csr CAMIPRO1.csr && socklab ca sign CAMIPRO1.csr",
  async run(args, io) {
    const action = args.positionals[0] as Action;
    if (!ACTIONS.includes(action)) {
      throw new UsageError(`<action>: '${action}' is not one of ${ACTIONS.join(", ")}`);
    }
    for (const name of args.given) {
      if (!ACTION_OPTIONS[action].includes(name)) {
        throw new UsageError(`--${name} does not apply to 'ca ${action}'`);
      }
    }
    if (action !== "sign" && args.positionals.length > 1) {
      throw new UsageError(`unexpected argument '${args.positionals[1]}'`);
    }
    const dir = str(args, "dir") ?? "lab-ca";

    if (action === "init") {
      const days = given(args, "days") ? numOpt(args, "days", { min: 1, integer: true }) : 3650;
      const files = await caInit({ dir, cn: str(args, "cn"), days, force: flag(args, "force") });
      io.log(`CA certificate ${files.cert}: ${await describeCert(files.cert)}`);
      io.log(`CA key ${files.key}: keep it private`);
      io.out(files.cert);
      io.out(files.key);
      return 0;
    }

    if (action === "request") {
      const key = str(args, "key") ?? "pmu_key.pem";
      const csr = str(args, "csr") ?? "pmu.csr";
      const { newKey } = await makeRequest({ key, csr, cn: str(args, "cn") });
      io.log(newKey ? `new 2048-bit RSA key ${key}` : `using the existing key ${key}`);
      io.log(`certificate request ${csr}; have it signed: socklab ca sign ${csr}`);
      if (newKey) io.out(key);
      io.out(csr);
      return 0;
    }

    const csr = args.positionals[1];
    if (csr === undefined) throw new UsageError("missing <csr> (ca sign <csr>)");
    const days = given(args, "days") ? numOpt(args, "days", { min: 1, integer: true }) : 365;
    const notBefore = dateOpt(args, "not-before");
    const notAfter = dateOpt(args, "not-after");
    const names = (args.values.name as string[] | undefined) ?? [...DEFAULT_NAMES];
    for (const n of names) {
      if (!validName(n)) throw new UsageError(`--name: '${n}' is not a host name or IP address`);
    }
    const out = str(args, "out") ?? csr.replace(/\.(csr|req|pem)$/i, "") + ".crt";
    if (out === csr) throw new UsageError(`--out: would overwrite the request ${csr}`);
    await signRequest({
      csr,
      dir,
      out,
      days,
      notBefore,
      notAfter,
      names,
      force: flag(args, "force"),
    });
    io.log(`signed ${out}: ${await describeCert(out)}`);
    io.out(out);
    return 0;
  },
});

export const securePmu = defineCommand({
  name: "secure-pmu",
  summary: "PMU over TLS on localhost:5003 (the part 5 server)",
  part: "5",
  positionals: [
    { name: "certificate", help: "the server's certificate (PEM, X.509 v3), e.g. CAMIPRO1.crt" },
    { name: "key", help: "its private key (PEM, not encrypted), e.g. CAMIPRO1_key.pem" },
  ],
  options: {
    ...listenOptions(
      "localhost",
      5003,
      "TCP",
      "address to listen on (localhost: 127.0.0.1, as the handout hard-codes)",
    ),
    ...pmuServerOptions,
  },
  description: `The PMU of part 2 (same commands, same answers) behind a TLS handshake that
proves the server's identity with the certificate. A missing, unreadable or mismatched
certificate or key is an error at startup; a client whose handshake fails (plain TCP, a
client that rejects the certificate, one that says nothing) is logged and the server goes
on. One log line per connection on stderr.`,
  example: "socklab secure-pmu CAMIPRO1.crt CAMIPRO1_key.pem",
  run(args, io) {
    const [certFile, keyFile] = args.positionals;
    return servePmu(args, io, bindAddress, async (options) => {
      const identity = await loadIdentity(certFile, keyFile);
      const server = await startSecurePmu({ ...options, identity });
      const about = describeServerCert(identity.cert);
      io.log(`certificate ${certFile}: ${about.line}`);
      for (const w of about.warnings) io.log(`warning: certificate ${certFile}: ${w}`);
      return server;
    });
  },
});

export const securePdc = defineCommand({
  name: "secure-pdc",
  summary: "PDC over TLS: verifies the server against a CA, prints the messages (Part5_PDC)",
  part: "5",
  positionals: [
    { name: "command", help: "CMD_short:<d> or CMD_floodme (sent as is)" },
    { name: "ca-certificate", help: "the CA certificate to trust (PEM), e.g. Part5.ca.crt" },
  ],
  options: {
    ...peerOptions(
      "localhost",
      5003,
      "TCP",
      "server",
      "server name (resolved to IPv4) or IP address; the certificate must be for it",
    ),
    "no-hostname-check": {
      type: "boolean",
      help: "accept a certificate for any name (the course's client checked the chain only)",
    },
    ...PDC_READ_OPTIONS,
  },
  description: `Connects to the server, runs the TLS handshake trusting the given CA certificate
(and Deno's built-in public roots, which never sign for localhost), checks that the certificate
is valid for --host unless --no-hostname-check, sends the command, then prints every
'This is PMU data <i>' on its own line like pdc, and exits 0 when the server closes.
A rejected server is exit 1 with the reason: unknown issuer, expired, wrong name...`,
  example: "socklab secure-pdc CMD_short:0 Part5.ca.crt",
  async run(args, io) {
    const [command, caFile] = args.positionals;
    if (/^CMD_/.test(caFile) && !/^CMD_/.test(command)) {
      throw new UsageError(
        `the command comes first, then the CA certificate: socklab secure-pdc ${caFile} ${command}`,
      );
    }
    const port = portOpt(args, "port", false);
    const readSize = pdcReadSize(args);
    const host = str(args, "host");
    if (!isValidHost(host)) {
      throw new UsageError(`--host: '${host}' is not a valid host name or IP address`);
    }
    const caCert = await loadCaCert(caFile);
    const address = ipFamily(host) ? host : await ipv4Of(host);
    await using _capture = await captureExchange(args, io, { proto: "tcp", port, host: address });
    const hostnameCheck = !flag(args, "no-hostname-check");
    const conn = await connectSecure({
      address,
      port,
      name: host,
      caCert,
      caFile,
      hostnameCheck,
      identifyPlain: true,
    });
    io.log(
      `connected to ${hostPort(host, port)} over TLS: certificate chain verified against ` +
        `${caFile}${hostnameCheck ? `, valid for ${host}` : " (host name not checked)"}`,
    );
    io.log(`sending: ${command}`);
    const trace = flag(args, "trace");
    const lenient = lenientClose(conn, () => {
      if (trace) io.log("the server closed the TCP connection without TLS close_notify");
    });
    return await runPdc(io, lenient, command, hostPort(host, port), { trace, readSize });
  },
});
