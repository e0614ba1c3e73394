// Small parts: settings validation, CLI flags, admission windows, the in-flight series, truth reloading.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AdmissionControl, RPM_WINDOW_MS } from '../../dev/emulator/admission';
import { EmulatorUsageError, parseEmulatorArgs } from '../../dev/emulator/cli';
import { MetricsRecorder } from '../../dev/emulator/metrics';
import {
  DEFAULT_EMULATOR_SETTINGS,
  EmulatorSettingsError,
  resolveEmulatorSettings,
} from '../../dev/emulator/settings';
import { TRUTH_CHECK_INTERVAL_MS, TruthSource } from '../../dev/emulator/truth-source';
import { emptyTruth } from '../../src/domain/llm-tasks';
import { writeTruthFile } from './helpers';

void describe('settings', () => {
  void test('defaults apply and patches override', () => {
    assert.deepEqual(resolveEmulatorSettings({}), DEFAULT_EMULATOR_SETTINGS);
    const s = resolveEmulatorSettings({ rpm: 10, truthFile: '/t.json' });
    assert.equal(s.rpm, 10);
    assert.equal(s.truthFile, '/t.json');
    assert.equal(s.maxConcurrency, 64);
    assert.equal(
      resolveEmulatorSettings({ truthFile: null }, s).truthFile,
      undefined,
      'null unsets the truth file',
    );
  });

  const bad: Array<[string, Record<string, unknown>]> = [
    ['errorRate', { errorRate: 1.5 }],
    ['maxConcurrency', { maxConcurrency: 0 }],
    ['rateLimitStatus', { rateLimitStatus: 500 }],
    ['seed', { seed: 1.5 }],
    ['latencyMs', { latencyMs: '10' }],
    ['nonsense', { nonsense: true }],
    ['providerModel', { providerModel: 'lazy' }],
    ['parallel', { parallel: 0 }],
    ['parallel', { parallel: 1.5 }],
    ['maxQueue', { maxQueue: -1 }],
    ['prefillTokensPerS', { prefillTokensPerS: 0 }],
    ['decodeTokensPerS', { decodeTokensPerS: -70 }],
    ['parallelSpeedup', { parallelSpeedup: 0.5 }],
    ['loadingForMs', { loadingForMs: -1 }],
    ['faultStatus', { faultStatus: 200 }],
    ['faultStatus', { faultStatus: 600 }],
    ['faultRate', { faultRate: 1.1 }],
  ];
  void test('the queueing model and status faults are off by default; null turns faultStatus off', () => {
    const s = resolveEmulatorSettings({});
    assert.equal(s.providerModel, 'refusing');
    assert.equal(s.faultStatus, undefined);
    assert.equal(s.faultRate, 0);
    assert.equal(s.loadingForMs, 0);
    const on = resolveEmulatorSettings({ providerModel: 'queueing', faultStatus: 401, faultRate: 1 });
    assert.equal(on.providerModel, 'queueing');
    assert.equal(on.faultStatus, 401);
    assert.equal(resolveEmulatorSettings({ faultStatus: null }, on).faultStatus, undefined);
  });

  for (const [field, patch] of bad) {
    void test(`rejects a bad ${field} (${JSON.stringify(patch[field])}), naming it`, () => {
      assert.throws(
        () => resolveEmulatorSettings(patch),
        (err: unknown) =>
          err instanceof EmulatorSettingsError && err.fields.includes(field) && err.message.includes(field),
      );
    });
  }
});

void describe('CLI flags', () => {
  const env = { DATA_DIR: '/tmp/emu-data', EMULATOR_PORT: '12001' };
  void test('defaults come from the environment', () => {
    const args = parseEmulatorArgs([], env);
    assert.equal(args.port, 12001);
    assert.equal(args.host, '127.0.0.1');
    assert.equal(args.settings.truthFile, path.resolve('/tmp/emu-data/truth.json'));
  });

  void test('--help asks for the usage text', () => {
    assert.equal(parseEmulatorArgs(['--help'], env).help, true);
    assert.equal(parseEmulatorArgs([], env).help, false);
  });

  void test('flags map to settings', () => {
    const args = parseEmulatorArgs(
      [
        '--port',
        '0',
        '--rpm',
        '30',
        '--error-rate',
        '0.1',
        '--rate-limit-status',
        '503',
        '--truth-file',
        '/x.json',
      ],
      env,
    );
    assert.equal(args.port, 0);
    assert.equal(args.settings.rpm, 30);
    assert.equal(args.settings.errorRate, 0.1);
    assert.equal(args.settings.rateLimitStatus, 503);
    assert.equal(args.settings.truthFile, '/x.json');
  });

  void test('queueing and status-fault flags map to settings', () => {
    const args = parseEmulatorArgs(
      [
        '--provider-model',
        'queueing',
        '--parallel',
        '2',
        '--max-queue',
        '0',
        '--prefill-tokens-per-s',
        '250',
        '--decode-tokens-per-s',
        '65',
        '--parallel-speedup',
        '1.3',
        '--loading-for-ms',
        '1500',
        '--fault-status',
        '401',
        '--fault-rate',
        '0.5',
      ],
      env,
    );
    assert.deepEqual(
      {
        providerModel: args.settings.providerModel,
        parallel: args.settings.parallel,
        maxQueue: args.settings.maxQueue,
        prefillTokensPerS: args.settings.prefillTokensPerS,
        decodeTokensPerS: args.settings.decodeTokensPerS,
        parallelSpeedup: args.settings.parallelSpeedup,
        loadingForMs: args.settings.loadingForMs,
        faultStatus: args.settings.faultStatus,
        faultRate: args.settings.faultRate,
      },
      {
        providerModel: 'queueing',
        parallel: 2,
        maxQueue: 0,
        prefillTokensPerS: 250,
        decodeTokensPerS: 65,
        parallelSpeedup: 1.3,
        loadingForMs: 1500,
        faultStatus: 401,
        faultRate: 0.5,
      },
    );
  });

  for (const [argv, flag] of [
    [['--provider-model', 'lazy'], '--provider-model'],
    [['--parallel', '0'], '--parallel'],
    [['--fault-status', '200'], '--fault-status'],
    [['--rpm', 'lots'], '--rpm'],
    [['--accuracy', '1.2'], '--accuracy'],
    [['--port', '70000'], '--port'],
    [['--max-concurrency', '0'], '--max-concurrency'],
    [['--frobnicate'], '--frobnicate'],
  ] as const) {
    void test(`bad ${flag} is a usage error naming the flag`, () => {
      assert.throws(
        () => parseEmulatorArgs([...argv], env),
        (err: unknown) => err instanceof EmulatorUsageError && err.message.includes(flag),
      );
    });
  }

  void test('the entry point exits 2 on a bad flag', () => {
    const main = path.join(__dirname, '../../dev/emulator/main.ts');
    const run = spawnSync(process.execPath, ['--import', 'tsx', main, '--seed', 'x'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--seed/);
  });
});

void describe('admission', () => {
  void test('concurrency cap refuses the request that would exceed it', () => {
    const a = new AdmissionControl(() => 0);
    assert.equal(a.tryAdmit(3, 4, 0), undefined);
    assert.equal(a.tryAdmit(4, 4, 0)?.reason, 'concurrency');
  });

  void test('rpm is a sliding 60 s window', () => {
    let now = 0;
    const a = new AdmissionControl(() => now);
    for (let i = 0; i < 3; i++) {
      assert.equal(a.tryAdmit(0, 10, 3), undefined);
      now += 10_000;
    }
    assert.equal(a.tryAdmit(0, 10, 3)?.reason, 'rpm');
    assert.equal(a.tryAdmit(0, 10, 3)?.resetMs, RPM_WINDOW_MS - 30_000);
    now = RPM_WINDOW_MS; // the first admission (t=0) leaves the window
    assert.equal(a.tryAdmit(0, 10, 3), undefined);
    assert.equal(a.tryAdmit(0, 10, 3)?.reason, 'rpm');
  });
});

void describe('in-flight series', () => {
  void test('records every change, keeps the peak of a bucket, and coarsens instead of growing past its bound', () => {
    let now = 0;
    const m = new MetricsRecorder(() => now, 100);
    for (let i = 0; i < 1000; i++) {
      now = i;
      m.enter();
      m.enter();
      m.leave();
      m.leave();
    }
    const snap = m.snapshot();
    assert.ok(snap.series.length <= 100, `bounded: ${snap.series.length}`);
    assert.ok(snap.seriesBucketMs > 1);
    assert.equal(snap.inFlightMax, 2);
    assert.ok(
      snap.series.every((p) => p.max === 2 && p.inFlight === 0),
      'peaks survive coarsening',
    );
    assert.equal(snap.series[0]?.t, 0);
    m.reset();
    assert.deepEqual(m.snapshot().series, [{ t: 0, inFlight: 0, max: 0, queued: 0, queuedMax: 0 }]);
  });

  void test('records the queue beside the in-flight count, peaks included', () => {
    let now = 0;
    const m = new MetricsRecorder(() => now);
    m.enqueue();
    m.enqueue();
    m.enqueue();
    m.dequeue();
    m.enter();
    now = 5;
    m.dequeue();
    m.enter();
    const snap = m.snapshot();
    assert.equal(snap.queued, 1);
    assert.equal(snap.queuedMax, 3);
    assert.equal(snap.inFlight, 2);
    assert.deepEqual(snap.series, [
      { t: 0, inFlight: 1, max: 1, queued: 2, queuedMax: 3 },
      { t: 5, inFlight: 2, max: 2, queued: 1, queuedMax: 2 },
    ]);
    m.reset();
    assert.equal(m.snapshot().queuedMax, 1, 'the peak restarts from what waits now');
  });
});

void describe('truth source', () => {
  void test('re-reads the file when its mtime changes, checking at most once per interval', () => {
    let now = 0;
    const warnings: string[] = [];
    const first = emptyTruth(1);
    first.words.a = { label: 'TAX' };
    const file = writeTruthFile(first);
    const source = new TruthSource(
      file,
      (m) => warnings.push(m),
      () => now,
    );
    assert.equal(source.get()?.words.a?.label, 'TAX');

    const second = emptyTruth(2);
    second.words.a = { label: 'DATE' };
    fs.writeFileSync(file, JSON.stringify(second));
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    now += TRUTH_CHECK_INTERVAL_MS / 2;
    assert.equal(source.get()?.words.a?.label, 'TAX', 'not re-checked within the interval');
    now += TRUTH_CHECK_INTERVAL_MS;
    assert.equal(source.get()?.words.a?.label, 'DATE', 'changed mtime: re-read');

    fs.writeFileSync(file, '{"half": ');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    now += TRUTH_CHECK_INTERVAL_MS;
    assert.equal(source.get()?.words.a?.label, 'DATE', 'a half-written file keeps the previous truth');
    assert.equal(warnings.length, 1);

    source.setPath(`${file}.missing`);
    assert.equal(source.get(), undefined);
  });
});
