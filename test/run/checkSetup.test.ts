import { afterEach, describe, expect, it } from 'vitest';
import { checkSetup } from '../../functions/checkSetup.js';
import { invoke } from '../../lib/core/fn.js';
import { mailboxProgress } from '../../lib/console/progress.js';
import { run } from '../../lib/db/client.js';
import { addAccount, emulatorWorld, WORKSPACE, type EmulatorWorld } from '../helpers/mail.js';

let w: EmulatorWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const OK = `ok@${WORKSPACE}`;

describe('checkSetup probes a mailbox live (token grant + getProfile)', () => {
  it('a mailbox Google serves: ok, with its message total', async () => {
    w = await emulatorWorld([OK]);
    w.emu.control.deliver(`From: a@acme.example\r\nTo: ${OK}\r\nSubject: x\r\nMessage-ID: <p1@acme.example>\r\n\r\nhello\r\n`, { to: [OK] });
    const r = await w.run(invoke(w.deps, checkSetup, { email: OK }));
    expect(r.probe).toMatchObject({ email: OK, ok: true, enrolled: false, messages_total: 1 });
    expect(r.ok).toBe(true);
  });

  it('delegation not authorised: the fix names the Admin console page', async () => {
    w = await emulatorWorld([]);
    w.emu.control.createMailbox(`nodwd@${WORKSPACE}`, { authorisedForDwd: false });
    const r = await w.run(invoke(w.deps, checkSetup, { email: `nodwd@${WORKSPACE}` }));
    expect(r.ok).toBe(false);
    expect(r.probe!.ok).toBe(false);
    expect(r.probe!.error).toBeTruthy();
    expect(r.probe!.fix).toMatch(/Admin console → Security/);
  });

  it('an unknown mailbox: the fix says to check the address', async () => {
    w = await emulatorWorld([]);
    const r = await w.run(invoke(w.deps, checkSetup, { email: `nobody@${WORKSPACE}` }));
    expect(r.probe!.ok).toBe(false);
    expect(r.probe!.fix).toMatch(/must exist in the workspace/);
  });
});

describe('mailbox progress', () => {
  it('a running backfill shows stored of Gmail’s total, a rate and the time left', async () => {
    w = await emulatorWorld([OK]);
    for (let i = 0; i < 4; i++) w.emu.control.deliver(`From: a@acme.example\r\nTo: ${OK}\r\nSubject: x${i}\r\nMessage-ID: <q${i}@acme.example>\r\n\r\nhello\r\n`, { to: [OK] });
    const acc = await addAccount(w.deps, OK);
    const started = new Date(w.clock.now() - 10_000).toISOString();
    await run(w.deps.db, "INSERT INTO email_sync_runs (account_id, kind, status, messages_seen, messages_stored, started_at) VALUES (?, 'backfill', 'running', 2, 0, ?)", [acc.id, started]);
    const [p] = await w.run(mailboxProgress(w.deps));
    expect(p).toMatchObject({ id: acc.id, phase: 'running', stored: 0, total: 4, fraction: 0 });
    expect(p!.rate_per_sec).toBeCloseTo(0.2, 5);
    expect(p!.eta_sec).toBeCloseTo(20, 5);
    expect(p!.text).toBe('backfill running: 0 of 4 messages · 0.2/s · about 20 s left');
  });
});
