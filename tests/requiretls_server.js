// SPDX-License-Identifier: MIT
// requiretls_server.js -- an smtp-server (tests/node) for
// tests/interop_requiretls.sh that offers REQUIRETLS (RFC 8689) on TLS
// connections and records what each client did, one JSON object a line:
//
//   {"event":"connect","id":..,"secure":false}
//   {"event":"mail","id":..,"from":"a@b","requireTLS":true,"secure":true}
//   {"event":"data","id":..,"requireTLS":true,"from":..,"to":[..],
//    "message":"..."}
//
//   node tests/requiretls_server.js --port P --mode starttls|implicit \
//        --cert F --key F --log FILE --ready FILE
//
// Listens on 127.0.0.1 only; writes FILE given by --ready once listening.
// Exits on SIGTERM.
'use strict';

const fs = require('fs');
const path = require('path');
// tests/node/node_modules, or $SMTPC_NODE_DIR/node_modules
const nodeDir = process.env.SMTPC_NODE_DIR || path.join(__dirname, 'node');
const { SMTPServer } = require(
  path.join(nodeDir, 'node_modules', 'smtp-server'),
);

const opt = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
  opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['port', 'mode', 'cert', 'key', 'log', 'ready'])
  if (opt[k] === undefined) {
    process.stderr.write(`requiretls_server: --${k} is required\n`);
    process.exit(64);
  }

const log = (obj) => fs.appendFileSync(opt.log, JSON.stringify(obj) + '\n');

const server = new SMTPServer({
  secure: opt.mode === 'implicit',
  key: fs.readFileSync(opt.key),
  cert: fs.readFileSync(opt.cert),
  name: 'localhost',
  banner: 'requiretls interop server',
  hideREQUIRETLS: false, // advertised on TLS connections only
  disabledCommands: ['AUTH'],
  size: 10 * 1024 * 1024,
  logger: false,
  socketTimeout: 20000,
  onConnect(session, cb) {
    log({ event: 'connect', id: session.id, secure: Boolean(session.secure) });
    cb();
  },
  onMailFrom(address, session, cb) {
    log({
      event: 'mail',
      id: session.id,
      from: address.address,
      requireTLS: Boolean(session.envelope.requireTLS),
      secure: Boolean(session.secure),
    });
    cb();
  },
  onData(stream, session, cb) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      log({
        event: 'data',
        id: session.id,
        requireTLS: Boolean(session.envelope.requireTLS),
        from: session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        message: Buffer.concat(chunks).toString('latin1'),
      });
      cb(null, 'Ok: queued as RTLS' + session.id);
    });
  },
});

server.on('error', (err) => {
  process.stderr.write(`requiretls_server: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(opt.port), '127.0.0.1', () => {
  fs.writeFileSync(opt.ready, String(process.pid) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
