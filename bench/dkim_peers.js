#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// dkim_peers.js -- mailauth's dkimSign() (npm mailauth, installed in
// tests/node: `cd tests/node && npm ci`) signing the messages that
// bench/dkim_bench signs, for bench/dkim.py.
//
//   node bench/dkim_peers.js --rsa KEY.pem --ed25519 KEY.pem --msg1k MSG \
//       --big MSG [--count N] [--reps R]
//
// For each key (RSA-2048 and Ed25519, PKCS#8 PEM), relaxed/relaxed,
// d=example.com, s=bench:
//   - ms per signature of the 1 KiB message: N dkimSign() calls one after
//     the other (after a few to warm up the JIT), best of R runs;
//   - MB/s of the big message: one dkimSign() of the whole message given as
//     a Buffer (read from the file before the clock starts), best of R
//     runs; 10^6 octets of the file per second.
// Both by the wall clock and by the process's CPU time (user + system,
// process.cpuUsage(): all of Node's threads), each the best of R.
// Prints one JSON object per key on stdout.  A benchmark, not a test.
//
// The signer is loaded from mailauth/lib/dkim/sign.js rather than the
// package's main module: the main module also loads the BIMI code, whose
// HTTP client (undici) needs a newer Node.js than Debian 12's, while the
// DKIM signer runs on it.
'use strict';

const fs = require('fs');
const path = require('path');

// tests/node/node_modules, or $SMTPC_NODE_DIR/node_modules
const nodeDir = process.env.SMTPC_NODE_DIR || path.join(__dirname, '..', 'tests', 'node');
const modDir = path.join(nodeDir, 'node_modules', 'mailauth');
const { dkimSign } = require(path.join(modDir, 'lib', 'dkim', 'sign'));
const version = require(path.join(modDir, 'package.json')).version;

function args() {
    const a = { count: 200, reps: 3 };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, '');
        if (!['rsa', 'ed25519', 'msg1k', 'big', 'count', 'reps'].includes(k) || i + 1 >= argv.length) {
            process.stderr.write('usage: dkim_peers.js --rsa KEY --ed25519 KEY --msg1k MSG --big MSG [--count N] [--reps R]\n');
            process.exit(2);
        }
        a[k] = ['count', 'reps'].includes(k) ? Number(argv[i + 1]) : argv[i + 1];
    }
    for (const k of ['rsa', 'ed25519', 'msg1k', 'big']) {
        if (!a[k]) {
            process.stderr.write(`dkim_peers.js: --${k} is required\n`);
            process.exit(2);
        }
    }
    return a;
}

async function sign(msg, algo, key) {
    const r = await dkimSign(msg, {
        canonicalization: 'relaxed/relaxed',
        signatureData: [{ signingDomain: 'example.com', selector: 'bench', privateKey: key, algorithm: algo }]
    });
    if (!r.signatures || (r.errors && r.errors.length)) {
        throw new Error(`dkimSign gave no signature: ${JSON.stringify(r.errors)}`);
    }
    return r.signatures;
}

function seconds(t0) {
    return Number(process.hrtime.bigint() - t0) / 1e9;
}

// user + system CPU seconds since c0 (process.cpuUsage() is in microseconds)
function cpuSeconds(c0) {
    const d = process.cpuUsage(c0);
    return (d.user + d.system) / 1e6;
}

async function main() {
    const a = args();
    const small = fs.readFileSync(a.msg1k);
    const size = fs.statSync(a.big).size;
    for (const [algo, file] of [
        ['rsa-sha256', a.rsa],
        ['ed25519-sha256', a.ed25519]
    ]) {
        const key = fs.readFileSync(file);
        let fields;
        for (let i = 0; i < 20; i++) {
            fields = await sign(small, algo, key);
        }
        let best = Infinity;
        let bestCpu = Infinity;
        for (let r = 0; r < a.reps; r++) {
            const t0 = process.hrtime.bigint();
            const c0 = process.cpuUsage();
            for (let i = 0; i < a.count; i++) {
                await sign(small, algo, key);
            }
            best = Math.min(best, seconds(t0));
            bestCpu = Math.min(bestCpu, cpuSeconds(c0));
        }
        let big = fs.readFileSync(a.big);
        let bestBig = Infinity;
        let bestBigCpu = Infinity;
        for (let r = 0; r < a.reps; r++) {
            const t0 = process.hrtime.bigint();
            const c0 = process.cpuUsage();
            await sign(big, algo, key);
            bestBig = Math.min(bestBig, seconds(t0));
            bestBigCpu = Math.min(bestBigCpu, cpuSeconds(c0));
        }
        big = null;
        process.stdout.write(
            JSON.stringify({
                tool: 'mailauth',
                version,
                node: process.version,
                algo,
                ms_per_sig: (best * 1000) / a.count,
                ms_per_sig_cpu: (bestCpu * 1000) / a.count,
                big_octets: size,
                big_s: bestBig,
                mbps: size / 1e6 / bestBig,
                cpu_mbps: size / 1e6 / bestBigCpu,
                fields
            }) + '\n'
        );
    }
}

main().catch(err => {
    process.stderr.write(`dkim_peers.js: ${err.stack || err}\n`);
    process.exit(1);
});
