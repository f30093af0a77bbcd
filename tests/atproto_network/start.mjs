// Starts the reference atproto network from @atproto/dev-env on loopback for
// Coalesce's integration tests.
//
// Usage: node start.mjs [--no-appview]
//
// A small control server on 127.0.0.1 (control_url in the ready line) lets a
// test wait for indexing instead of sleeping:
//   POST {control_url}/process-all  -> 200 once the PDS queue, the AppView
//                                      subscription and ozone have caught up.
//
// stdout carries exactly one line: a JSON object with "ready": true, the
// service URLs and the accounts created. Every other message goes to stderr.
// The network stays up until stdin closes or SIGTERM/SIGINT arrives, then it
// is closed, its PostgreSQL schemas are dropped and its temp files removed.
//
// Environment (all optional):
//   COALESCE_ATPROTO_PG_URL  PostgreSQL URL for the AppView, bsync and ozone
//                            (default: a database of this run's own on
//                            postgres@127.0.0.1:5432, dropped at exit)
//   REDIS_HOST               host:port of Redis (default 127.0.0.1:6379)
//   COALESCE_ATPROTO_KEEP_SCHEMAS=1  do not drop the run's schemas (or database) at exit;
//                            the next run's start sweeps a database left so

import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'

const LOOPBACK = '127.0.0.1'
const startedAt = performance.now()

// --- keep stdout for the ready line -----------------------------------------
const writeStdout = process.stdout.write.bind(process.stdout)
const toStderr = (...args) => {
  process.stderr.write(args.map((a) => (typeof a === 'string' ? a : String(a))).join(' ') + '\n')
}
console.log = console.error
console.info = console.error
console.debug = console.error
process.stdout.write = (chunk, ...rest) => process.stderr.write(chunk, ...rest)
// The servers' pino loggers write to fd 1 directly; keep them quiet.
process.env.LOG_ENABLED = 'false'

// --- force every listening socket onto loopback -----------------------------
// dev-env's servers call listen(port) without a host, which would bind every
// interface. Rewrite TCP listens to 127.0.0.1 before any of them is loaded.
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb])
    const port = Number(first)
    const rest = args.slice(1)
    if (typeof rest[0] === 'string') rest.shift()
    return originalListen.call(this, port, LOOPBACK, ...rest)
  }
  const isTcpOptions =
    first && typeof first === 'object' && !['path', 'fd', 'handle', '_handle'].some((k) => k in first)
  if (isTcpOptions) {
    // listen({ port, host, ... }[, cb])
    return originalListen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1))
  }
  if (first === undefined || typeof first === 'function') {
    // listen([cb]) binds a random port on every interface
    return originalListen.call(this, 0, LOOPBACK, ...args)
  }
  return originalListen.apply(this, args)
}

// --- per-run scratch space ----------------------------------------------------
// The PDS keeps its SQLite files and blobs under os.tmpdir(); give this run its
// own folder so it can be removed at exit.
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coalesce-atproto-'))
process.env.TMPDIR = runDir

// letters and underscores only: dev-env prefixes it with appview_, bsync_, ozone_
const runId = Array.from(crypto.randomBytes(10), (b) => String.fromCharCode(97 + (b % 26))).join('')
const schema = 'coalesce_' + runId

// A database of this run's own: dev-env's migrations scan every schema of their database, so
// a schema created or dropped beside them while they run breaks start-up ("schema ... does not
// exist"): the Python tests do that in `test` all the time, and so does a second network
// starting at the same moment (pytest-xdist, or two people's test runs on one machine).
// The name carries our pid, so a run that was killed is swept by the next one (dropLeftovers).
const DB_PREFIX = 'coalesce_atproto_'
const ownDatabase = !process.env.COALESCE_ATPROTO_PG_URL
const pgUrl =
  process.env.COALESCE_ATPROTO_PG_URL ||
  `postgresql://postgres@${LOOPBACK}:5432/${DB_PREFIX}${process.pid}_${runId}`
process.env.REDIS_HOST ||= `${LOOPBACK}:6379`

const withAppView = !process.argv.includes('--no-appview')

const ACCOUNTS = [
  { role: 'central', handle: 'coalesce.test', email: 'central@coalesce.test', password: 'central-pass' },
  { role: 'member', handle: 'alice.test', email: 'alice@coalesce.test', password: 'alice-pass' },
  { role: 'member', handle: 'bob.test', email: 'bob@coalesce.test', password: 'bob-pass' },
]

const loopbackUrl = (port, scheme = 'http') => `${scheme}://${LOOPBACK}:${port}`

async function createAccount(pdsUrl, account) {
  const res = await fetch(`${pdsUrl}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle: account.handle, email: account.email, password: account.password }),
  })
  const body = await res.json()
  if (!res.ok) {
    throw new Error(`createAccount ${account.handle} failed: ${res.status} ${JSON.stringify(body)}`)
  }
  return { ...account, did: body.did }
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`

async function adminClient() {
  const { default: pg } = await import('pg')
  const admin = new URL(pgUrl)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  return client
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM' // it exists, under another user
  }
}

// Databases of earlier runs whose process is gone (killed before it could drop its own).
async function dropLeftovers(client) {
  const { rows } = await client.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
    DB_PREFIX,
  ])
  for (const { datname } of rows) {
    const pid = Number(datname.slice(DB_PREFIX.length).split('_')[0])
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      toStderr(`[atproto-network] dropping ${datname}, left by a run that is gone`)
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`)
    }
  }
}

async function ensureDatabase() {
  if (!withAppView) return
  const name = decodeURIComponent(new URL(pgUrl).pathname.slice(1))
  const client = await adminClient()
  try {
    if (ownDatabase) await dropLeftovers(client)
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)}`)
      } catch (err) {
        if (err.code !== '42P04') throw err // created meanwhile by a parallel start: fine
      }
    }
  } finally {
    await client.end()
  }
}

async function dropSchemas() {
  if (!withAppView || process.env.COALESCE_ATPROTO_KEEP_SCHEMAS === '1') return
  if (ownDatabase) {
    const client = await adminClient()
    try {
      const name = decodeURIComponent(new URL(pgUrl).pathname.slice(1))
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
    } finally {
      await client.end()
    }
    return
  }
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    for (const prefix of ['appview', 'bsync', 'ozone']) {
      await client.query(`DROP SCHEMA IF EXISTS "${prefix}_${schema}" CASCADE`)
    }
  } finally {
    await client.end()
  }
}

let network
let stopping
let control

// POST /process-all waits until every service has processed what is pending.
function startControlServer() {
  const server = http.createServer((req, res) => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'POST' && req.url === '/process-all') {
      req.resume()
      network
        .processAll()
        .then(() => reply(200, { ok: true }))
        .catch((err) => reply(500, { ok: false, error: String(err?.message ?? err) }))
      return
    }
    reply(404, { ok: false, error: 'not found' })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => resolve(server))
  })
}

async function stop(reason, failed = false) {
  if (stopping) return stopping
  stopping = (async () => {
    toStderr(`[atproto-network] stopping (${reason})`)
    let code = failed ? 1 : 0
    const guard = setTimeout(() => {
      toStderr('[atproto-network] shutdown took over 30 s; exiting anyway')
      process.exit(1)
    }, 30_000)
    guard.unref()
    if (control) {
      control.close()
      control.closeAllConnections()
    }
    try {
      if (network) await network.close()
    } catch (err) {
      toStderr('[atproto-network] close failed:', err?.stack ?? err)
      code = 1
    }
    try {
      await dropSchemas()
    } catch (err) {
      toStderr('[atproto-network] dropping schemas failed:', err?.stack ?? err)
      code = 1
    }
    fs.rmSync(runDir, { recursive: true, force: true })
    toStderr(`[atproto-network] stopped (exit ${code})`)
    process.exit(code)
  })()
  return stopping
}

process.on('SIGTERM', () => void stop('SIGTERM'))
process.on('SIGINT', () => void stop('SIGINT'))
process.stdin.on('end', () => void stop('stdin closed'))
process.stdin.on('error', () => void stop('stdin error'))
process.stdin.resume()

async function main() {
  const devEnv = await import('@atproto/dev-env')
  await ensureDatabase()
  if (withAppView) {
    network = await devEnv.TestNetwork.create({ dbPostgresUrl: pgUrl, dbPostgresSchema: schema })
  } else {
    network = await devEnv.TestNetworkNoAppView.create({})
  }
  if (stopping) return

  const pdsUrl = loopbackUrl(network.pds.port)
  const accounts = []
  for (const account of ACCOUNTS) {
    accounts.push(await createAccount(pdsUrl, account))
  }
  // let the AppView index the new accounts before anyone reads them
  await network.processAll()

  control = await startControlServer()

  const ready = {
    ready: true,
    mode: withAppView ? 'full' : 'no-appview',
    pds_url: pdsUrl,
    pds_ws_url: `${loopbackUrl(network.pds.port, 'ws')}/xrpc`,
    pds_did: network.pds.ctx.cfg.service.did,
    plc_url: loopbackUrl(network.plc.port),
    appview_url: withAppView ? loopbackUrl(network.bsky.port) : null,
    appview_did: withAppView ? network.bsky.serverDid : null,
    control_url: loopbackUrl(control.address().port),
    pg_schema: withAppView ? schema : null,
    accounts,
    startup_ms: Math.round(performance.now() - startedAt),
    pid: process.pid,
  }
  writeStdout(JSON.stringify(ready) + '\n')
  toStderr(`[atproto-network] ready in ${ready.startup_ms} ms: pds ${pdsUrl}`)
}

main().catch((err) => {
  toStderr('[atproto-network] start failed:', err?.stack ?? err)
  void stop('start failed', true)
})
