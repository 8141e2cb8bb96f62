#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// dkim_verify.js -- verify every DKIM-Signature of one message with
// mailauth's dkimVerify (tests/node/package.json pins the version), offline.
//
//   node dkim_verify.js KEYS [--count N] MESSAGE [[--count N] MESSAGE...]
//
// KEYS holds the DNS TXT records, one a line: "NAME RECORD" (the format of
// tests/dkim_verify.py).  The resolver given to mailauth serves only these
// records and answers ENOTFOUND for anything else: there is no DNS traffic.
// Prints one line per signature ("pass d=... s=... a=... c=..." or
// "fail ...: reason"; with several messages each line starts with
// "MESSAGE: " and a line "MESSAGE: verdict pass" or "... fail" ends each)
// and exits 0 only when each message carries at least one signature
// (exactly N with the --count before it) and each one's result is pass;
// 1 otherwise, 2 on a usage error.
//
// Only mailauth/lib/dkim/verify is loaded: the package's main module also
// loads its BIMI and MTA-STS code (HTTP clients) that DKIM does not need.
"use strict";

const fs = require("fs");
const { dkimVerify } = require("mailauth/lib/dkim/verify");

const USAGE =
    "usage: dkim_verify.js KEYS [--count N] MESSAGE [[--count N] MESSAGE...]\n";

function usage() {
  process.stderr.write(USAGE);
  process.exit(2);
}

function loadKeys(path) {
  const keys = new Map();
  for (let line of fs.readFileSync(path, "latin1").split("\n")) {
    line = line.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.indexOf(" ");
    if (sp < 0) continue;
    keys.set(line.slice(0, sp).toLowerCase().replace(/\.$/, ""),
             line.slice(sp + 1).trim());
  }
  return keys;
}

// [all good, lines to print] for one message
async function verifyOne(keys, path, count) {
  const resolver = async (name, type) => {
    const rec = keys.get(String(name).toLowerCase().replace(/\.$/, ""));
    if (type !== "TXT" || rec === undefined) {
      const err = new Error(`no ${type} record for ${name} (offline test)`);
      err.code = "ENOTFOUND";
      throw err;
    }
    return [[rec]]; // as dns.promises.resolveTxt: records of strings
  };
  // strict: RFC 6376 syntax rules enforced, no lenient fallbacks
  const res = await dkimVerify(fs.readFileSync(path), { resolver, strict: true });
  // a message without any signature gets one "none" result
  const sigs = (res.results || []).filter(
      (r) => r.status && r.status.result !== "none");
  if (sigs.length === 0)
    return [false, ["fail: the message has no DKIM-Signature"]];
  if (count !== null && sigs.length !== count)
    return [false, [`fail: ${sigs.length} DKIM-Signature fields, expected ${count}`]];
  const lines = [];
  let failed = 0;
  for (const r of sigs) {
    const c = r.canonicalization || r.format || "?";
    const desc = `d=${r.signingDomain} s=${r.selector} a=${r.algo} c=${c}`;
    if (r.status.result === "pass") {
      lines.push(`pass ${desc}`);
    } else {
      failed++;
      lines.push(`fail ${desc}: ${r.status.result}` +
                 (r.status.comment ? ` (${r.status.comment})` : ""));
    }
  }
  return [failed === 0, lines];
}

async function main(argv) {
  if (argv.length === 0) usage();
  const keys = loadKeys(argv[0]);
  const jobs = [];
  let count = null;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === "--count" && i + 1 < argv.length) {
      count = Number(argv[++i]);
      if (!Number.isInteger(count) || count < 1) usage();
      continue;
    }
    jobs.push([argv[i], count]);
    count = null;
  }
  if (jobs.length === 0 || count !== null) usage();
  let bad = 0;
  for (const [path, n] of jobs) {
    let good, lines;
    try {
      [good, lines] = await verifyOne(keys, path, n);
    } catch (err) {
      [good, lines] = [false, [`fail: ${err && err.message ? err.message : err}`]];
    }
    if (!good) bad++;
    if (jobs.length === 1) {
      for (const l of lines) console.log(l);
    } else {
      for (const l of lines) console.log(`${path}: ${l}`);
      console.log(`${path}: verdict ${good ? "pass" : "fail"}`);
    }
  }
  return bad ? 1 : 0;
}

main(process.argv.slice(2)).then(
    (rc) => process.exit(rc),
    (err) => {
      console.log(`fail: ${err && err.stack ? err.stack : err}`);
      process.exit(1);
    });
