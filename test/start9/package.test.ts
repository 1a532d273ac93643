// The StartOS package under start9/: type-checked against @start9labs/start-sdk 2.0.9, linted with
// the SDK's own rules, bundled the way `make` bundles it, and the bundle loaded and inspected.
// Docker cannot run here, so the Dockerfile is checked against the package offline.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { APP_OWNER, API_PORT, DATA_DIR } from '../../start9/startos/utils.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START9 = path.join(ROOT, 'start9');
const SDK = path.join(START9, 'node_modules', '@start9labs', 'start-sdk');
const REPOSITORY_URL = 'https://git.example.invalid/firm/crm-gmail';

let setupProblem: string | undefined;
let outDir: string | undefined;
let bundle: Record<string, any> | undefined;

const skipUnlessReady = (ctx: TestContext) => {
  if (setupProblem) ctx.skip(setupProblem);
};

// npm prints its cause on its first "npm error" lines and a stack trace after them.
const npmCause = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('npm error') && !/^npm error\s+at /.test(l))
    .slice(0, 4)
    .join(' | ');

beforeAll(() => {
  if (!existsSync(path.join(SDK, 'package.json'))) {
    const r = spawnSync('npm', ['ci', '--prefix', START9, '--no-audit', '--no-fund'], { encoding: 'utf8', timeout: 540_000 });
    if (r.status !== 0) {
      setupProblem = `start9/node_modules is missing and \`npm ci --prefix start9\` failed (${r.error?.message ?? `exit ${r.status}`}): ${npmCause(r.stderr ?? '')}`;
      console.warn(`start9 package tests skipped: ${setupProblem}`);
      return;
    }
  }
  outDir = mkdtempSync(path.join(tmpdir(), 'crm-start9-'));
}, 600_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('start9 package source', () => {
  it('the installed SDK is exactly @start9labs/start-sdk 2.0.9', (ctx) => {
    skipUnlessReady(ctx);
    const sdk = JSON.parse(readFileSync(path.join(SDK, 'package.json'), 'utf8'));
    expect(sdk.version).toBe('2.0.9');
    expect(JSON.parse(readFileSync(path.join(START9, 'package.json'), 'utf8')).dependencies['@start9labs/start-sdk']).toBe('2.0.9');
  });

  it('type-checks against the SDK (tsc -p start9)', (ctx) => {
    skipUnlessReady(ctx);
    const r = spawnSync(process.execPath, [path.join(START9, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', START9], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it("passes the SDK's lint (the check `make` runs before bundling)", (ctx) => {
    skipUnlessReady(ctx);
    const r = spawnSync(process.execPath, [path.join(SDK, 'lint.mjs')], { cwd: START9, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('bundles with scripts/build.mjs into one CommonJS file', (ctx) => {
    skipUnlessReady(ctx);
    const outfile = path.join(outDir!, 'index.js');
    const r = spawnSync(process.execPath, [path.join(START9, 'scripts', 'build.mjs'), '--outfile', outfile], {
      cwd: START9,
      env: { ...process.env, CRM_REPOSITORY_URL: `${REPOSITORY_URL}.git` },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    bundle = createRequire(import.meta.url)(outfile) as Record<string, any>;
  }, 120_000);

  it('refuses to bundle when it cannot tell the repository URL', (ctx) => {
    skipUnlessReady(ctx);
    const r = spawnSync(process.execPath, [path.join(START9, 'scripts', 'build.mjs'), '--outfile', path.join(outDir!, 'x.js')], {
      cwd: START9,
      env: { ...process.env, CRM_REPOSITORY_URL: 'not a url' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('set CRM_REPOSITORY_URL=https://');
  }, 120_000);
});

describe('start9 package bundle', () => {
  const loaded = (ctx: TestContext): Record<string, any> => {
    skipUnlessReady(ctx);
    if (!bundle) throw new Error('the bundle was not built (see the bundling test above)');
    return bundle;
  };

  it('exports the StartOS 0.4 ABI: manifest, main, init, uninit, createBackup, actions', (ctx) => {
    const b = loaded(ctx);
    for (const name of ['main', 'init', 'uninit', 'createBackup']) expect(typeof b[name], name).toBe('function');
    expect(typeof b.manifest).toBe('object');
    expect(typeof b.actions?.get).toBe('function');
  });

  it('manifest: id crm-gmail, one `main` volume, version, SDK and OS versions, repository links', (ctx) => {
    const m = loaded(ctx).manifest;
    expect(m.id).toBe('crm-gmail');
    expect(m.volumes).toEqual(['main']);
    expect(m.version).toBe('0.1.0:0');
    expect(m.sdkVersion).toBe('2.0.9');
    expect(m.osVersion).toBe('0.4.0-beta.10');
    expect(m.packageRepo).toBe(REPOSITORY_URL);
    expect(m.upstreamRepo).toBe(REPOSITORY_URL);
    expect(m.description.short.length).toBeLessThanOrEqual(80);
    expect(m.dependencies).toEqual({});
  });

  it('manifest image is built from the repository root with start9/Dockerfile', (ctx) => {
    const m = loaded(ctx).manifest;
    expect(Object.keys(m.images)).toEqual(['main']);
    const { workdir, dockerfile } = m.images.main.source.dockerBuild;
    // Both paths are relative to the package directory (start9/).
    expect(path.resolve(START9, workdir)).toBe(path.resolve(ROOT));
    expect(existsSync(path.resolve(START9, dockerfile))).toBe(true);
    expect(path.resolve(START9, dockerfile)).toBe(path.join(START9, 'Dockerfile'));
  });

  it('interfaces: the API on port 8080 over http, exported as an `api` interface', async (ctx) => {
    const b = loaded(ctx);
    const { effects, calls } = recordingEffects();
    await b.setInterfaces(effects);
    const bind = calls.find(([name]) => name === 'bind')?.[1];
    expect(bind).toMatchObject({ id: 'api', internalPort: API_PORT });
    const exported = calls.find(([name]) => name === 'exportServiceInterface')?.[1];
    expect(exported).toMatchObject({ id: 'api', type: 'api', masked: false, addressInfo: { internalPort: API_PORT, scheme: 'http' } });
  });

  it('main: chown the volume as root, then the entrypoint running the server as crm with a /healthz check', async (ctx) => {
    const b = loaded(ctx);
    const { effects } = recordingEffects();
    const daemons = await b.main({ effects });
    const entries = daemons.entries as any[];
    expect(entries.map((e) => [e.id, e.kind])).toEqual([
      ['data-owner', 'oneshot'],
      ['primary', 'daemon'],
    ]);
    expect(entries[0].exec).toMatchObject({ command: ['chown', '-R', 'crm:crm', DATA_DIR], user: 'root' });
    const primary = entries[1];
    expect(primary.requires).toEqual(['data-owner']);
    expect(primary.exec.user).toBe('crm');
    expect(primary.exec.command).toEqual(['/app/start9/docker_entrypoint.sh', 'node', '--import', 'tsx', '/app/lib/run/main.ts']);
    expect(primary.exec.env).toMatchObject({ CRM_DATA_DIR: DATA_DIR, CRM_PORT: String(API_PORT), CRM_HOST: '0.0.0.0', CRM_TRUSTED_PROXIES: '10.0.3.1' });
    // Nothing saved by "Set Gmail quota model": the legacy model, and no rate, so the server's default pace applies.
    expect(primary.exec.env.CRM_GMAIL_QUOTA_COSTS).toBe('legacy');
    expect(primary.exec.env).not.toHaveProperty('CRM_GMAIL_RATE_UNITS_SEC');
    // The volume is mounted where the entrypoint and the server look for it.
    expect(primary.subcontainer.imageId).toBe('main');
    expect(primary.subcontainer.mounts.volumes).toEqual([expect.objectContaining({ volumeId: 'main', subpath: null, mountpoint: DATA_DIR, readonly: false })]);
    expect(primary.ready.display).toBe('API');
  });

  it('actions: install key (masked, never prefilled), set domain, set quota model, remove key, show admin credentials', async (ctx) => {
    const b = loaded(ctx);
    const ids = ['set-service-account-key', 'set-workspace-domain', 'set-gmail-quota-model', 'remove-service-account-key', 'show-admin-credentials'];
    for (const id of ids) expect(b.actions.get(id), id).toBeTruthy();
    const { effects } = recordingEffects();
    const keyForm = await b.actions.get('set-service-account-key').getInput({ effects, prefill: null });
    expect(keyForm.spec.key).toMatchObject({ type: 'text', masked: true, required: true });
    expect(keyForm.value).toBeNull();
    const domainForm = await b.actions.get('set-workspace-domain').getInput({ effects, prefill: null });
    expect(domainForm.spec.domain).toMatchObject({ type: 'text', required: true });
    expect(domainForm.spec.domain.masked).toBe(false);
    const quotaForm = await b.actions.get('set-gmail-quota-model').getInput({ effects, prefill: null });
    expect(quotaForm.spec.model).toMatchObject({ type: 'select', default: 'legacy' });
    expect(Object.keys(quotaForm.spec.model.values).sort()).toEqual(['2026', 'legacy']);
    expect(quotaForm.spec.rate).toMatchObject({ type: 'number', required: false, default: null, integer: true, min: 1, max: 250 });
    // exportMetadata needs a synchronous effects.child and effects.action.export; its name and group are what the UI shows.
    const exported: unknown[] = [];
    const metaEffects = { child: () => recordingEffects().effects, action: { export: async (arg: unknown) => void exported.push(arg) } };
    const quotaMeta = await b.actions.get('set-gmail-quota-model').exportMetadata({ effects: metaEffects });
    expect(exported).toEqual([{ id: 'set-gmail-quota-model', metadata: quotaMeta }]);
    expect(quotaMeta).toMatchObject({ name: 'Set Gmail quota model', group: 'Gmail', visibility: 'enabled', hasInput: true });
    expect(quotaMeta.description).toContain('Now: the legacy quota model at 150 units per second per mailbox (its default).');
  });

  it('the key, domain and quota actions refuse bad input before writing anything', async (ctx) => {
    const b = loaded(ctx);
    const { effects, calls } = recordingEffects();
    await expect(b.actions.get('set-service-account-key').run({ effects, input: { key: '{"type":"authorized_user"}' } })).rejects.toThrow(
      /"type" must be "service_account"/,
    );
    await expect(b.actions.get('set-workspace-domain').run({ effects, input: { domain: 'partner@fund.com' } })).rejects.toThrow(/is an email address/);
    await expect(b.actions.get('set-gmail-quota-model').run({ effects, input: { model: '2026', rate: 150 } })).rejects.toThrow(
      /at most 100 units per second under the 2026 model/,
    );
    expect(calls).toEqual([]);
  });
});

describe('start9/Dockerfile, checked offline', () => {
  const dockerfile = readFileSync(path.join(START9, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage: dependencies with npm ci, then a slim Node runtime', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:(20|22)-[a-z]+-slim$/m);
    expect(instructions.some((l) => /^RUN npm ci\b/.test(l))).toBe(true);
    expect(instructions.some((l) => l.startsWith('COPY --from=build /app/node_modules'))).toBe(true);
  });

  it('runs as a non-root user whose ids match the package and who owns /data', () => {
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toBe('USER crm');
    expect(dockerfile).toContain(`groupadd --gid ${APP_OWNER.gid} crm`);
    expect(dockerfile).toContain(`useradd --uid ${APP_OWNER.uid} --gid crm`);
    expect(dockerfile).toMatch(/chown crm:crm \/data/);
  });

  it('the entrypoint is the Start9 entrypoint script, and every file the package runs is copied in', () => {
    expect(instructions).toContain('ENTRYPOINT ["/app/start9/docker_entrypoint.sh"]');
    const copied = instructions.filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from'));
    const sources = copied.flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const src of sources) expect(existsSync(path.join(ROOT, src)), src).toBe(true);
    for (const needed of ['lib', 'functions', 'migrations', 'package.json', 'start9/docker_entrypoint.sh', 'start9/scripts/backup-db.mjs']) {
      expect(sources, needed).toContain(needed);
    }
  });
});

function recordingEffects(): { effects: any; calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const effects = new Proxy(
    {},
    {
      get(_target, prop) {
        if (prop === 'then') return undefined;
        return async (arg: unknown) => {
          calls.push([String(prop), arg]);
          return prop === 'getOsIp' ? '10.0.3.1' : null;
        };
      },
    },
  );
  return { effects, calls };
}
