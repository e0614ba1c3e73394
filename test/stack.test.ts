// The embedded stack manager against real processes, in its own DATA_DIR and ports (+300), so it never
// touches the shared stack the other test files use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../src/config';
import { runStackCommand, type CliIo } from '../dev/stack/cli';
import { PortInUseError } from '../dev/stack/errors';
import { OLLAMA_STACK_MODEL } from '../dev/stack/ollama';
import { pidFile, procStartTicks, readPidRecord, spawnDetached, writePidRecord } from '../dev/stack/process';
import {
  EMULATOR_ENTRY,
  PROJECT_ROOT,
  SERVICE_NAMES,
  STATUS_NAMES,
  TEMPORAL_SEARCH_ATTRIBUTES,
  type ServiceName,
} from '../dev/stack/services';
import { stackDown, stackStatus, stackUp, type StackStatus } from '../dev/stack/stack';
import { ollamaInstall } from '../dev/stack/tools';

const PORT_OFFSET = 300;
const EXTERNAL_VARS = [
  'TEMPORAL_ADDRESS',
  'CHROMA_URL',
  'DYNAMODB_ENDPOINT',
  'S3_ENDPOINT',
  'OLLAMA_HOST',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'LLM_PROVIDER',
];
const emulatorInstalled = fs.existsSync(EMULATOR_ENTRY);

/** process.env without external endpoints, with `overrides`: a stack of our own. */
function isolatedEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of EXTERNAL_VARS) delete env[name];
  return { ...env, ...overrides };
}

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** Pids of live (non-zombie) processes, per process group, read with ps (independent of dev/stack). */
function liveProcessGroups(): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  const out = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const [pid, pgid, stat] = line.trim().split(/\s+/);
    if (!pid || !pgid || !stat || stat.startsWith('Z')) continue;
    groups.set(Number(pgid), [...(groups.get(Number(pgid)) ?? []), Number(pid)]);
  }
  return groups;
}

function runningPids(st: StackStatus, names: readonly ServiceName[]): Map<ServiceName, number> {
  const pids = new Map<ServiceName, number>();
  for (const name of names) {
    const pid = st[name].pid;
    if (pid !== null) pids.set(name, pid);
  }
  return pids;
}

/**
 * Services a plain `up` runs as processes of ours (the emulator only once its code exists; the optional
 * ollama only with --ollama).
 */
const processServices: ServiceName[] = SERVICE_NAMES.filter(
  (n) => n !== 'ollama' && (n !== 'emulator' || emulatorInstalled),
);

void describe('embedded stack', () => {
  const defaults = loadConfig({}, PROJECT_ROOT);
  // A fixed dir (not mkdtemp): if an earlier run died before its cleanup, its processes still hold our
  // ports, and their pid files here are how `before` finds and stops them.
  const dataDir = path.join(os.tmpdir(), `stack-test-${os.userInfo().username}`);
  const env = isolatedEnv({
    DATA_DIR: dataDir,
    TEMPORAL_PORT: String(defaults.TEMPORAL_PORT + PORT_OFFSET),
    TEMPORAL_UI_PORT: String(defaults.TEMPORAL_UI_PORT + PORT_OFFSET),
    CHROMA_PORT: String(defaults.CHROMA_PORT + PORT_OFFSET),
    DYNAMODB_PORT: String(defaults.DYNAMODB_PORT + PORT_OFFSET),
    S3_PORT: String(defaults.S3_PORT + PORT_OFFSET),
    EMULATOR_PORT: String(defaults.EMULATOR_PORT + PORT_OFFSET),
    OLLAMA_PORT: String(defaults.OLLAMA_PORT + PORT_OFFSET),
  });
  const ollamaMissing = ollamaInstall(loadConfig(env, PROJECT_ROOT), env).missing;
  let cfg: AppConfig;
  let firstPids: Map<ServiceName, number>;
  /** Pid of the ollama server `up --ollama` started, once it did. */
  let ollamaPid: number | undefined;
  const otherDataDirs: string[] = [];

  before(async () => {
    cfg = loadConfig(env, PROJECT_ROOT);
    await stackDown(cfg);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  after(async () => {
    await stackDown(cfg);
    for (const dir of otherDataDirs)
      await stackDown(loadConfig(isolatedEnv({ DATA_DIR: dir }), PROJECT_ROOT));
    for (const dir of [dataDir, ...otherDataDirs]) fs.rmSync(dir, { recursive: true, force: true });
  });

  void test('up starts every service, and each answers its own protocol', async () => {
    const result = await stackUp(cfg, { env });
    for (const name of processServices) assert.equal(result.actions[name], 'started', name);
    if (!emulatorInstalled) assert.equal(result.status.emulator.state, 'not installed');
    // The real LLM server is optional: a plain up neither starts it nor fails over it.
    assert.equal(result.actions.ollama, undefined);
    assert.equal(result.status.ollama.state, ollamaMissing ? 'not installed' : 'stopped');
    assert.equal(result.status.ollama.pid, null);
    for (const name of STATUS_NAMES) {
      if (name === 'ollama' || (name === 'emulator' && !emulatorInstalled)) continue;
      assert.equal(result.status[name].state, 'running', `${name}: ${result.status[name].detail ?? ''}`);
    }
    firstPids = runningPids(result.status, processServices);
    assert.equal(firstPids.size, processServices.length);

    // Temporal: the namespace answers, our search attributes exist, task queues have one partition.
    const connection = await Connection.connect({ address: `127.0.0.1:${cfg.TEMPORAL_PORT}` });
    try {
      await connection.workflowService.describeNamespace({ namespace: cfg.TEMPORAL_NAMESPACE });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: cfg.TEMPORAL_NAMESPACE,
      });
      for (const name of Object.keys(TEMPORAL_SEARCH_ATTRIBUTES)) assert.ok(name in customAttributes, name);
      const partitions = await connection.workflowService.listTaskQueuePartitions({
        namespace: cfg.TEMPORAL_NAMESPACE,
        taskQueue: { name: 'stack-test-queue' },
      });
      assert.equal(partitions.activityTaskQueuePartitions?.length, 1);
    } finally {
      await connection.close();
    }

    const ui = await fetch(`http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}/`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /<html/i);

    const heartbeat = await fetch(`http://127.0.0.1:${cfg.CHROMA_PORT}/api/v2/heartbeat`);
    assert.equal(heartbeat.status, 200);
    assert.ok('nanosecond heartbeat' in ((await heartbeat.json()) as object));

    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const ddb = new DynamoDBClient({ endpoint: cfg.dynamodbEndpoint, region: cfg.AWS_REGION, credentials });
    const tables = await ddb.send(new ListTablesCommand({}));
    ddb.destroy();
    assert.ok(tables.TableNames?.includes(cfg.DYNAMODB_TABLE), 'provision created the table');

    const s3 = new S3Client({
      endpoint: cfg.s3Endpoint,
      region: cfg.AWS_REGION,
      credentials,
      forcePathStyle: true,
    });
    await s3.send(new HeadBucketCommand({ Bucket: cfg.S3_BUCKET }));
    s3.destroy();

    if (emulatorInstalled) {
      const healthz = await fetch(`http://127.0.0.1:${cfg.EMULATOR_PORT}/healthz`);
      assert.equal(healthz.status, 200);
    }

    for (const name of processServices) {
      const rec = readPidRecord(dataDir, name);
      assert.equal(rec?.pid, firstPids.get(name), `${name} pid file`);
      assert.ok(rec?.startedAt && rec.port > 0, `${name} pid file has port and start time`);
      assert.ok(fs.existsSync(path.join(dataDir, 'logs', `${name}.log`)), `${name} log`);
    }
  });

  void test('a second up reuses every running service (same pids)', async () => {
    const result = await stackUp(cfg, { env });
    for (const name of processServices) assert.equal(result.actions[name], 'reused', name);
    assert.deepEqual(runningPids(result.status, processServices), firstPids);
  });

  void test('status --json prints one JSON object with url, pid and state per service', async () => {
    const io = capture();
    assert.equal(await runStackCommand(['stack', 'status', '--json'], env, io), 0, io.stderr.join('\n'));
    assert.equal(io.stdout.length, 1);
    const st = JSON.parse(io.stdout[0] ?? '') as StackStatus;
    assert.deepEqual(Object.keys(st), [...STATUS_NAMES]);
    for (const name of STATUS_NAMES) {
      assert.ok('url' in st[name] && 'pid' in st[name] && 'state' in st[name], name);
    }
    assert.deepEqual(st.temporal, {
      url: `127.0.0.1:${cfg.TEMPORAL_PORT}`,
      pid: firstPids.get('temporal'),
      state: 'running',
    });
    assert.deepEqual(st.temporalUi, {
      url: `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`,
      pid: firstPids.get('temporal'),
      state: 'running',
    });
    assert.equal(st.chroma.url, `http://127.0.0.1:${cfg.CHROMA_PORT}`);
    assert.equal(st.s3.pid, firstPids.get('s3'));
  });

  void test('up on the command line prints a table and the Temporal UI URL', async () => {
    const io = capture();
    assert.equal(await runStackCommand(['up'], env, io), 0, io.stderr.join('\n'));
    const text = io.stdout.join('\n');
    assert.match(text, new RegExp(`^temporal\\s+running\\s+${firstPids.get('temporal')}\\s`, 'm'));
    assert.match(text, /reused/);
    assert.ok(text.includes(`Temporal UI: http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`));
  });

  void test(
    'up --ollama adds a running ollama server with its model, and reuses the rest',
    { skip: ollamaMissing && `ollama not installed (${ollamaMissing})` },
    async () => {
      const io = capture();
      assert.equal(await runStackCommand(['up', '--ollama'], env, io), 0, io.stderr.join('\n'));
      const text = io.stdout.join('\n');
      assert.match(text, /^ollama\s+running\s+\d+\s+\S+\s+started$/m);
      assert.match(text, /^temporal\s+running\s+\d+\s+\S+\s+reused$/m);
      assert.ok(text.includes(`OLLAMA_HOST=http://127.0.0.1:${cfg.OLLAMA_PORT}`), text);

      const status = capture();
      assert.equal(await runStackCommand(['status', '--json'], env, status), 0);
      const st = JSON.parse(status.stdout[0] ?? '') as StackStatus;
      assert.equal(st.ollama.state, 'running', st.ollama.detail);
      assert.equal(st.ollama.url, `http://127.0.0.1:${cfg.OLLAMA_PORT}`);
      assert.ok(st.ollama.pid);
      ollamaPid = st.ollama.pid;
      assert.equal(st.temporal.pid, firstPids.get('temporal'), 'the other services were reused');

      const tags = (await (await fetch(`${st.ollama.url}/api/tags`)).json()) as {
        models: { name: string }[];
      };
      assert.deepEqual(
        tags.models.map((m) => m.name),
        [OLLAMA_STACK_MODEL],
      );
      // Its models live in DATA_DIR, not in ~/.ollama.
      assert.ok(fs.existsSync(path.join(dataDir, 'ollama', 'models', 'manifests')));
    },
  );

  void test('a port held by another program gives a clear error and starts nothing', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-test-port-'));
    otherDataDirs.push(otherDir);
    const otherEnv = isolatedEnv({ DATA_DIR: otherDir, S3_PORT: String(port) });
    try {
      const other = loadConfig(otherEnv, PROJECT_ROOT);
      await assert.rejects(stackUp(other, { only: ['s3'], env: otherEnv }), (err: Error) => {
        assert.ok(err instanceof PortInUseError, String(err));
        assert.ok(err.message.includes(`port ${port}`), err.message);
        assert.match(err.message, /^s3: /);
        assert.match(err.message, /S3_PORT=/);
        assert.match(err.message, /ss -ltnp|lsof/);
        return true;
      });
      assert.equal(
        fs.existsSync(pidFile(otherDir, 's3')),
        false,
        'no pid file for a service that did not start',
      );

      const io = capture();
      assert.equal(await runStackCommand(['up', '--only', 's3'], otherEnv, io), 1);
      assert.match(io.stderr.join('\n'), new RegExp(`s3: port ${port} .*in use`));
      const st = await stackStatus(other, otherEnv);
      assert.equal(st.s3.state, 'stopped');
      assert.match(st.s3.detail ?? '', /S3_PORT/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  void test('down stops every process it started, leaves no process group, and spares a recycled pid', async () => {
    // A pid file naming a live process that is NOT the one we started (same pid, other start time).
    const bystander = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    bystander.unref();
    const bystanderPid = bystander.pid ?? 0;
    writePidRecord(dataDir, {
      service: 'ghost',
      pid: bystanderPid,
      port: 1,
      ports: [1],
      startedAt: new Date(0).toISOString(),
      procStartTicks: (procStartTicks(bystanderPid) ?? 0) + 1,
      command: ['sleep', '300'],
      logFile: '/dev/null',
    });
    // A process of ours with a child that outlives its parent: only a process-group kill ends both.
    const forkerLog = path.join(dataDir, 'logs', 'forker.log');
    const forker = await spawnDetached(
      { command: 'sh', args: ['-c', 'sleep 300 & wait'], cwd: dataDir, env: process.env },
      forkerLog,
    );
    writePidRecord(dataDir, {
      service: 'forker',
      pid: forker.pid,
      port: 1,
      ports: [1],
      startedAt: new Date().toISOString(),
      procStartTicks: procStartTicks(forker.pid),
      command: ['sh'],
      logFile: forkerLog,
    });
    for (let i = 0; i < 100 && (liveProcessGroups().get(forker.pid)?.length ?? 0) < 2; i++) await sleep(50);
    assert.equal(liveProcessGroups().get(forker.pid)?.length, 2, 'sh and its sleep child');
    try {
      const { stopped } = await stackDown(cfg);
      const ours = [...processServices, ...(ollamaPid ? ['ollama'] : [])];
      assert.deepEqual([...stopped].sort(), ['forker', 'ghost', ...ours].sort());
      assert.equal(
        liveProcessGroups().has(forker.pid),
        false,
        'the child of a stopped process is stopped too',
      );

      const groups = liveProcessGroups();
      for (const [name, pid] of [...firstPids, ...(ollamaPid ? [['ollama', ollamaPid] as const] : [])]) {
        assert.equal(groups.has(pid), false, `${name} (pid/pgid ${pid}) still has live processes`);
      }
      assert.ok(groups.has(bystanderPid), 'a process we did not start must survive down');
      assert.deepEqual(
        fs.readdirSync(path.join(dataDir, 'pids')).filter((f) => f.endsWith('.json')),
        [],
        'pid files removed',
      );
      const st = await stackStatus(cfg, env);
      for (const name of processServices) assert.equal(st[name].state, 'stopped', name);
      assert.equal(st.temporalUi.state, 'stopped');
      if (ollamaPid) assert.equal(st.ollama.state, 'stopped');
    } finally {
      process.kill(bystanderPid, 'SIGKILL');
    }
  });

  void test('up --fresh stops our services and wipes DATA_DIR', async () => {
    const only: ServiceName[] = ['dynamodb', 's3'];
    const before = await stackUp(cfg, { only, env });
    const oldPids = runningPids(before.status, only);
    assert.equal(oldPids.size, 2);
    const marker = path.join(dataDir, 'marker.txt');
    fs.writeFileSync(marker, 'must disappear');
    fs.writeFileSync(path.join(dataDir, 's3', 'stray-file'), 'must disappear too');

    const after = await stackUp(cfg, { only, env, fresh: true });
    assert.equal(fs.existsSync(marker), false, 'marker file wiped');
    assert.equal(fs.existsSync(path.join(dataDir, 's3', 'stray-file')), false);
    const groups = liveProcessGroups();
    for (const [name, pid] of oldPids) assert.equal(groups.has(pid), false, `old ${name} stopped`);
    for (const name of only) {
      assert.equal(after.actions[name], 'started', name);
      assert.equal(after.status[name].state, 'running', name);
      assert.notEqual(after.status[name].pid, oldPids.get(name), name);
    }
    await stackDown(cfg);
  });
});
