// The admin's pages: mailboxes (with live progress), the run ledger, the directory (import,
// exclusions, held changes to approve or reject, team users) and the setup check. Members get 403 for every one of them.
import { checkSetup, fixFor } from '../../../functions/checkSetup.js';
import { createExclusion } from '../../../functions/createExclusion.js';
import { createUser } from '../../../functions/createUser.js';
import { deleteAccount } from '../../../functions/deleteAccount.js';
import { deleteExclusion } from '../../../functions/deleteExclusion.js';
import { enroll } from '../../../functions/enroll.js';
import { enrollAll } from '../../../functions/enrollAll.js';
import { approveReview } from '../../../functions/approveReview.js';
import { importInvestors } from '../../../functions/importInvestors.js';
import { listExclusions } from '../../../functions/listExclusions.js';
import { listRuns } from '../../../functions/listRuns.js';
import { listUsers } from '../../../functions/listUsers.js';
import { listReviews } from '../../../functions/listReviews.js';
import { oauthStart } from '../../../functions/oauthStart.js';
import { rejectReview } from '../../../functions/rejectReview.js';
import { runNow } from '../../../functions/runNow.js';
import { verifyMailbox } from '../../../functions/verifyMailbox.js';
import { status } from '../../../functions/status.js';
import { updateAccount } from '../../../functions/updateAccount.js';
import { updateUser } from '../../../functions/updateUser.js';
import type { Deps } from '../../core/deps.js';
import { AppError, toAppError } from '../../core/errors.js';
import type { App } from '../../http/access.js';
import { confirmed, confirmPage, field, flashOf, getPage, idOf, postForm, render, outcomeCode, outcomeNote, flashRedirect, type Ctx, type Form } from '../kit.js';
import { isPendingReview } from '../../directory/review.js';
import { Csrf, Layout, When } from '../layout.js';
import { mailboxProgress } from '../progress.js';
import { purgePreview, withdrawPreview } from '../read.js';
import { Withdrawal } from './mail.js';
import { affectedEmailIds } from '../../matching/rematch.js';
import { addressField, domainField } from '../../directory/directory.js';
import { isFreeMailDomain } from '../../mail/address.js';

const MAX_IMPORT_CHARS = 2_000_000;

export function registerAdminPages(app: App, deps: Deps): void {
  // ----- Mailboxes
  getPage(app, deps, '/mailboxes', 'admin', async ({ c, session, call }) => {
    const st = await call(status, {});
    const progress = new Map((await mailboxProgress(deps)).map((p) => [p.id, p]));
    return render(
      c,
      <Layout title="Mailboxes" session={session} path="/mailboxes" flash={flashOf(deps, c)}>
        <h1>Mailboxes</h1>
        <p class="small muted">
          Gmail integration {st.enabled ? 'on' : 'off'} · {st.auth_method} · workspace {st.workspace_domain ?? 'not set'} · {st.counts.emails} emails ({st.counts.matched} matched),{' '}
          {st.counts.threads} threads, {st.counts.attachments} files
        </p>
        <div class="row">
          <form method="post" action="/mailboxes/enroll" class="row">
            <Csrf session={session} />
            <label>
              Mailbox address
              <input type="email" name="email" required maxlength={320} />
            </label>
            <label>
              Method
              <select name="auth_method">
                <option value="dwd">domain-wide delegation</option>
                <option value="oauth">owner’s consent (OAuth)</option>
              </select>
            </label>
            <button type="submit">Enrol</button>
          </form>
          <form method="post" action="/mailboxes/enroll-all" class="row">
            <Csrf session={session} />
            <button type="submit" class="secondary">
              Enrol every team member
            </button>
          </form>
          <form method="post" action="/mailboxes/run-now" class="row">
            <Csrf session={session} />
            <button type="submit" class="secondary">
              Run all now
            </button>
          </form>
        </div>
        <div class="table-wrap" data-progress-url="/mailboxes/progress">
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">Mailbox</th>
                <th scope="col">State</th>
                <th scope="col">Last sync</th>
                <th scope="col">Last verify</th>
                <th scope="col">Progress</th>
                <th scope="col">Last error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {st.accounts.map((a) => {
                const p = progress.get(a.id);
                return (
                  <tr>
                    <td data-label="Mailbox">
                      {a.email}
                      <div class="small muted">{a.auth_method}{a.sync_enabled ? '' : ' · paused'}</div>
                    </td>
                    <td data-label="State">
                      <span id={`state-${a.id}`} class={`pill ${a.state === 'idle' ? 'ok' : a.state === 'syncing' ? '' : 'bad'}`}>
                        {a.state}
                      </span>
                    </td>
                    <td data-label="Last sync">
                      <When at={a.last_sync_at} />
                    </td>
                    <td data-label="Last verify" class="small" id={`verify-${a.id}`}>
                      <LastVerify v={a.last_verify} />
                    </td>
                    <td data-label="Progress" class="progress" id={`progress-${a.id}`} data-phase={p?.phase ?? 'idle'}>
                      <progress max={1} value={p?.fraction ?? undefined} hidden={p?.phase === 'blocked'} aria-label={`Sync progress of ${a.email}`}></progress>
                      <div class="small progress-text" aria-live="polite">
                        {p?.text ?? ''}
                      </div>
                      <div class="small progress-hint">{p?.hint ? `What to do: ${p.hint}` : ''}</div>
                    </td>
                    <td data-label="Last error" class="small">
                      {a.last_error ? (
                        <>
                          <div class="err-cell">{a.last_error}</div>
                          <div>What to do: {fixFor(a.last_error, a.auth_method)}</div>
                        </>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td data-label="Actions">
                      <form method="post" action={`/mailboxes/${a.id}/run-now`} class="inline">
                        <Csrf session={session} />
                        <button type="submit" disabled={!a.sync_enabled} aria-label={`Run now: ${a.email}`}>
                          Run now
                        </button>
                      </form>{' '}
                      <form method="post" action={`/mailboxes/${a.id}/verify`} class="inline">
                        <Csrf session={session} />
                        <button type="submit" class="secondary" disabled={!a.sync_enabled} aria-label={`Verify against Gmail: ${a.email}`}>
                          Verify
                        </button>
                      </form>{' '}
                      <form method="post" action={`/mailboxes/${a.id}/${a.sync_enabled ? 'pause' : 'resume'}`} class="inline">
                        <Csrf session={session} />
                        <button type="submit" class="secondary" aria-label={`${a.sync_enabled ? 'Pause' : 'Resume'}: ${a.email}`}>
                          {a.sync_enabled ? 'Pause' : 'Resume'}
                        </button>
                      </form>{' '}
                      {a.auth_method === 'oauth' && (
                        <form method="post" action={`/mailboxes/${a.id}/consent`} class="inline">
                          <Csrf session={session} />
                          <input type="hidden" name="email" value={a.email} />
                          <button type="submit" class="secondary" aria-label={`Consent link for ${a.email}`}>
                            Consent link
                          </button>
                        </form>
                      )}{' '}
                      <a href={`/mailboxes/${a.id}/unenroll`} aria-label={`Unenrol ${a.email}`}>
                        Unenrol…
                      </a>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Layout>,
    );
  });

  getPage(app, deps, '/mailboxes/progress', 'admin', async ({ c }) => c.json({ accounts: await mailboxProgress(deps) }));

  const backToMailboxes = () => '/mailboxes';
  postForm(app, deps, '/mailboxes/enroll', 'admin', backToMailboxes, async ({ c, form, call }) => {
    const out = await call(enroll, { email: field(form, 'email'), auth_method: field(form, 'auth_method') || undefined }).catch((err: unknown) => {
      // The handler speaks to API callers (auth_method "oauth"); here the choice is the form's
      // Method select, so name it as the admin sees it.
      const e = toAppError(err);
      if (e.code === 'VALIDATION' && e.message.includes('auth_method "oauth"')) {
        throw new AppError('VALIDATION', e.message.replace('use auth_method "oauth"', 'choose Method “owner’s consent (OAuth)”'), { field: e.field ?? 'email' });
      }
      throw err;
    });
    return flashRedirect(deps, c, '/mailboxes', out.created ? 'enrolled' : 'already-enrolled');
  });
  postForm(app, deps, '/mailboxes/enroll-all', 'admin', backToMailboxes, async ({ c, call }) => {
    const out = (await call(enrollAll, {})) as { accounts: unknown[]; created?: number };
    return flashRedirect(deps, c, '/mailboxes', 'enrolled-all');
  });
  postForm(app, deps, '/mailboxes/run-now', 'admin', backToMailboxes, async ({ c, call }) => {
    const out = await call(runNow, {});
    return flashRedirect(deps, c, '/mailboxes', 'syncs-started');
  });
  postForm(app, deps, '/mailboxes/:id/run-now', 'admin', backToMailboxes, async (x) => {
    const email = await accountEmail(x);
    const out = await x.call(runNow, { email });
    const r = out.runs[0];
    return flashRedirect(deps, x.c, '/mailboxes', r?.already_running ? 'already-syncing' : 'sync-started');
  });
  postForm(app, deps, '/mailboxes/:id/verify', 'admin', backToMailboxes, async (x) => {
    const email = await accountEmail(x);
    const out = (await x.call(verifyMailbox, { id: idOf(x.c), background: true })) as { run_id: number };
    return flashRedirect(deps, x.c, '/mailboxes', 'verify-started');
  });
  for (const [verb, enabled] of [['pause', false], ['resume', true]] as const) {
    postForm(app, deps, `/mailboxes/:id/${verb}`, 'admin', backToMailboxes, async (x) => {
      const id = idOf(x.c);
      const out = await x.call(updateAccount, { id, sync_enabled: enabled });
      return flashRedirect(deps, x.c, '/mailboxes', enabled ? 'resumed' : 'paused');
    });
  }
  postForm(app, deps, '/mailboxes/:id/consent', 'admin', backToMailboxes, async (x) => {
    const email = await accountEmail(x);
    const out = await x.call(oauthStart, { email });
    return render(
      x.c,
      <Layout title="Consent link" session={x.session}>
        <h1>Consent link for {email}</h1>
        <p>Hand this link to the mailbox’s owner. Opening it signs them in with Google and asks them to let crm-gmail read their mail; it works once and expires <When at={out.expires_at} />.</p>
        <label>
          Link
          <textarea readonly rows={4}>
            {out.url}
          </textarea>
        </label>
        <p>
          <a href="/mailboxes">Back to mailboxes</a>
        </p>
      </Layout>,
    );
  });

  // Unenrolling is two steps: this page says what each choice does to the captured mail; only
  // a post carrying the confirm field acts (a post without it answers this page).
  const unenrollConfirm = async ({ c, session, call }: Ctx) => {
    const id = idOf(c);
    const st = await call(status, {});
    const a = st.accounts.find((x) => x.id === id);
    if (!a) throw new AppError('NOT_FOUND', `no mailbox with id ${id}`);
    const preview = await purgePreview(deps.db, id);
    return render(
      c,
      <Layout title={`Unenrol ${a.email}`} session={session}>
        <h1>Unenrol {a.email}</h1>
        <form method="post" action={`/mailboxes/${id}/unenroll`} class="col">
          <Csrf session={session} />
          <input type="hidden" name="confirm" value="yes" />
          <fieldset>
            <legend>What happens to its mail</legend>
            <label class="check">
              <input type="radio" name="purge" value="false" checked /> Keep the captured mail; stop syncing and forget the mailbox’s consent.
            </label>
            <label class="check">
              <input type="radio" name="purge" value="true" /> Purge: delete this mailbox’s {preview.copies} message copies, the {preview.emails} emails no other mailbox holds, and their {preview.files} saved files. This cannot be undone.
            </label>
          </fieldset>
          <button type="submit" class="danger">
            Unenrol {a.email}
          </button>
          <a href="/mailboxes">Cancel</a>
        </form>
      </Layout>,
    );
  };
  getPage(app, deps, '/mailboxes/:id/unenroll', 'admin', unenrollConfirm);
  postForm(app, deps, '/mailboxes/:id/unenroll', 'admin', backToMailboxes, async (x) => {
    if (!confirmed(x.form)) return unenrollConfirm(x);
    const id = idOf(x.c);
    const out = await x.call(deleteAccount, { id, purge: field(x.form, 'purge') === 'true' });
    return flashRedirect(deps, x.c, '/mailboxes', out.purged ? 'unenrolled-purged' : 'unenrolled-kept');
  });

  // ----- Runs
  getPage(app, deps, '/runs', 'admin', async ({ c, session, call }) => {
    const mailbox = (c.req.query('mailbox') ?? '').trim().slice(0, 320);
    const kind = c.req.query('kind') ?? '';
    const state = c.req.query('status') ?? '';
    const st = await call(status, {});
    const { runs } = await call(listRuns, { limit: 500, ...(mailbox ? { email: mailbox } : {}) });
    const shown = runs.filter((r) => (!kind || r.kind === kind) && (!state || r.status === state)).slice(0, 200);
    const opt = (v: string, cur: string, label = v) => (
      <option value={v} selected={v === cur}>
        {label}
      </option>
    );
    return render(
      c,
      <Layout title="Runs" session={session} path="/runs">
        <h1>Runs</h1>
        <form method="get" action="/runs" class="row">
          <label>
            Mailbox
            <select name="mailbox">
              {opt('', mailbox, 'any')}
              {st.accounts.map((a) => opt(a.email, mailbox))}
            </select>
          </label>
          <label>
            Kind
            <select name="kind">
              {['', 'backfill', 'incremental', 'rematch', 'attachments', 'verify'].map((k) => opt(k, kind, k || 'any'))}
            </select>
          </label>
          <label>
            Status
            <select name="status">
              {['', 'running', 'succeeded', 'failed'].map((k) => opt(k, state, k || 'any'))}
            </select>
          </label>
          <button type="submit">Filter</button>
        </form>
        <div class="table-wrap">
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Mailbox</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Seen / stored / files</th>
                <th scope="col">Quota units</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr>
                  <td data-label="#">{r.id}</td>
                  <td data-label="Mailbox">{r.account ?? <span class="muted">(all)</span>}</td>
                  <td data-label="Kind">{r.kind}</td>
                  <td data-label="Status">
                    <span class={`pill ${r.status === 'failed' ? 'bad' : r.status === 'succeeded' ? 'ok' : ''}`}>{r.status}</span>
                  </td>
                  <td data-label="Seen / stored / files">
                    {r.messages_seen} / {r.messages_stored} / {r.attachments_saved}
                  </td>
                  <td data-label="Quota units">{r.quota_units}</td>
                  <td data-label="Started">
                    <When at={r.started_at} />
                  </td>
                  <td data-label="Finished">
                    <When at={r.finished_at} />
                  </td>
                  <td data-label="Error" class="small err-cell">
                    {r.error ?? ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Layout>,
    );
  });

  // ----- Directory
  const directoryPage = async (x: Ctx, imp?: { text: string; format: string; error?: string; field?: string; done?: string }) => {
    const [{ exclusions }, users, { reviews }] = await Promise.all([x.call(listExclusions, {}), x.call(listUsers, {}), x.call(listReviews, { status: 'pending' })]);
    const userList = (users as { users: { id: number; username: string; email: string | null; role: string; disabled: boolean }[] }).users;
    return render(
      x.c,
      <Layout title="Directory" session={x.session} path="/directory" flash={imp ? { ok: imp.done } : flashOf(deps, x.c)}>
        <h1>Directory</h1>
        <section aria-labelledby="import-h">
          <h2 id="import-h">Import investors and contacts</h2>
          <p class="small muted">
            CSV with the header <code>investor,domain,contact_name,contact_email</code> (optionally <code>investor_email</code>), or JSON{' '}
            <code>[{'{'}"name", "domains", "emails", "contacts": [{'{'}"name", "emails"{'}'}]{'}'}]</code>. Imports only add; one bad row stops the whole import.
          </p>
          <form method="post" action="/directory/import" enctype="multipart/form-data" class="col wide">
            <Csrf session={x.session} />
            <label>
              Format
              <select name="format">
                <option value="csv" selected={imp?.format !== 'json'}>
                  CSV
                </option>
                <option value="json" selected={imp?.format === 'json'}>
                  JSON
                </option>
              </select>
            </label>
            <label>
              Paste the data
              <textarea name="text" rows={8}>{imp?.text ?? ''}</textarea>
            </label>
            <label>
              …or choose a file
              <input type="file" name="file" accept=".csv,.json,text/csv,application/json" />
            </label>
            <button type="submit">Import</button>
          </form>
          {imp?.error && <ImportErrors text={imp.text} format={imp.format} error={imp.error} />}
        </section>
        <section aria-labelledby="reviews-h">
          <h2 id="reviews-h">Held changes</h2>
          <p class="small muted">
            Changes that would make more withheld emails readable than <code>CRM_REMATCH_REVIEW_THRESHOLD</code> allows wait here. Approve applies the change as it was asked for;
            reject drops it for good, and that mail stays withheld.
          </p>
          {reviews.length === 0 ? (
            <p class="muted">No change is waiting.</p>
          ) : (
            <ul>
              {reviews.map((r) => (
                <li>
                  <strong>{r.summary}</strong>{' '}
                  <span class="small muted">
                    ({r.action}, {r.newly_exposed} withheld emails, asked by {r.requested_by?.username ?? 'a removed user'} at {r.requested_at}, review {r.id})
                  </span>{' '}
                  <form method="post" action={`/directory/reviews/${r.id}/approve`} class="inline">
                    <Csrf session={x.session} />
                    <button type="submit" aria-label={`Approve review ${r.id}`}>
                      Approve
                    </button>
                  </form>{' '}
                  <form method="post" action={`/directory/reviews/${r.id}/reject`} class="inline">
                    <Csrf session={x.session} />
                    <button type="submit" class="secondary" aria-label={`Reject review ${r.id}`}>
                      Reject
                    </button>
                  </form>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="excl-h">
          <h2 id="excl-h">Exclusions</h2>
          <p class="small muted">Mail from or to an excluded address or domain (and its subdomains) never matches an investor.</p>
          <form method="get" action="/directory/exclusions/new" class="row">
            <label>
              Address or domain
              <input name="value" required maxlength={320} />
            </label>
            <button type="submit">Exclude…</button>
          </form>
          <ul>
            {exclusions.map((e: { id: number; address: string | null; domain: string | null }) => (
              <li>
                {e.address ?? `*@${e.domain}`}{' '}
                <form method="post" action={`/directory/exclusions/${e.id}/delete`} class="inline">
                  <Csrf session={x.session} />
                  <button type="submit" class="secondary" aria-label={`Remove exclusion ${e.address ?? e.domain}`}>
                    Remove
                  </button>
                </form>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="users-h">
          <h2 id="users-h">Team users</h2>
          <form method="post" action="/directory/users" class="row">
            <Csrf session={x.session} />
            <label>
              Username
              <input name="username" required maxlength={100} autocomplete="off" />
            </label>
            <label>
              Email
              <input name="email" type="email" maxlength={320} />
            </label>
            <label>
              Password
              <input name="password" type="password" required autocomplete="new-password" />
            </label>
            <label>
              Role
              <select name="role">
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
            </label>
            <button type="submit">Create user</button>
          </form>
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role and access</th>
                  <th scope="col">Reset password</th>
                </tr>
              </thead>
              <tbody>
                {userList.map((u) => (
                  <tr>
                    <td data-label="User">
                      {u.username}
                      <div class="small muted">{u.email ?? 'no email'}</div>
                    </td>
                    <td data-label="Role and access">
                      <form method="post" action={`/directory/users/${u.id}`} class="row">
                        <Csrf session={x.session} />
                        <label>
                          Role of {u.username}
                          <select name="role">
                            <option value="member" selected={u.role === 'member'}>
                              member
                            </option>
                            <option value="admin" selected={u.role === 'admin'}>
                              admin
                            </option>
                          </select>
                        </label>
                        <label class="check">
                          <input type="checkbox" name="disabled" value="true" checked={u.disabled} /> disabled
                        </label>
                        <button type="submit" class="secondary">
                          Save
                        </button>
                      </form>
                    </td>
                    <td data-label="Reset password">
                      <form method="post" action={`/directory/users/${u.id}/password`} class="row">
                        <Csrf session={x.session} />
                        <label>
                          New password for {u.username}
                          <input name="password" type="password" required autocomplete="new-password" />
                        </label>
                        <button type="submit" class="secondary">
                          Reset
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </Layout>,
      imp?.error ? 400 : 200,
    );
  };

  getPage(app, deps, '/directory', 'admin', (x) => directoryPage(x));

  postForm(app, deps, '/directory/import', 'admin', () => '/directory', async (x) => {
    const format = field(x.form, 'format') === 'json' ? 'json' : 'csv';
    const file = x.form.file;
    let text = field(x.form, 'text');
    if (file instanceof File && file.size > 0) {
      if (file.size > MAX_IMPORT_CHARS) return directoryPage(x, { text: '', format, error: `the file is over ${MAX_IMPORT_CHARS} bytes; split it` });
      text = await file.text();
    }
    if (text.length > MAX_IMPORT_CHARS) return directoryPage(x, { text: '', format, error: `the data is over ${MAX_IMPORT_CHARS} characters; split it` });
    if (!text.trim()) return directoryPage(x, { text, format, error: 'nothing to import: paste the data or choose a file' });
    let input: unknown;
    if (format === 'json') {
      try {
        input = JSON.parse(text);
      } catch (e) {
        return directoryPage(x, { text, format, error: `the JSON cannot be read: ${e instanceof Error ? e.message : String(e)}` });
      }
    } else input = { csv: text };
    try {
      const out = await x.call(importInvestors, input);
      const done = isPendingReview(out) ? outcomeNote(out, '') : `Imported: ${out.investors} investors and ${out.contacts} contacts created or changed.`;
      return directoryPage(x, { text: '', format, done });
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'VALIDATION' && e.code !== 'CONFLICT') throw err;
      return directoryPage(x, { text, format, error: e.message, field: e.field });
    }
  });

  // Excluding withdraws mail at once, so it is two steps: the Exclude form asks for this page
  // (GET), which says how much captured mail would be withheld; only its confirmed post acts.
  const exclusionInput = (raw: string) => {
    const v = raw.trim();
    return v.includes('@') && !v.startsWith('*@') ? { address: addressField(v, 'address') } : { domain: domainField(v.replace(/^\*@/, ''), 'domain') };
  };
  const exclusionConfirm = async (x: Ctx, form: Form | null) => {
    const raw = form ? field(form, 'value') : (x.c.req.query('value') ?? '');
    const ex = exclusionInput(raw.slice(0, 400));
    const shown = ex.address ?? `*@${ex.domain}`;
    const ids = await affectedEmailIds(deps.db, ex.address ? { addresses: [ex.address], domains: [] } : { addresses: [], domains: [ex.domain!] });
    const p = await withdrawPreview(deps.db, deps.config.gmail.workspaceDomains, ids, (d) => ({ ...d, exclusions: [...d.exclusions, { address: ex.address ?? null, domain: ex.domain ?? null }] }));
    const domain = ex.domain ?? ex.address!.slice(ex.address!.lastIndexOf('@') + 1);
    const workspace = deps.config.gmail.workspaceDomains.some((w) => domain === w || domain.endsWith(`.${w}`));
    return confirmPage(x, {
      title: `Exclude ${shown}?`,
      consequence: (
        <>
          <Withdrawal p={p} what={shown} />
          {ex.domain && isFreeMailDomain(ex.domain) && <p>{ex.domain} is a free-mail domain: this excludes every one of its users, investors’ personal addresses included.</p>}
          {workspace && <p>{domain} is the firm’s own workspace: the team’s addresses never match an investor anyway.</p>}
          <p>Removing the exclusion later matches this mail again only after it is fetched again from Gmail.</p>
        </>
      ),
      action: '/directory/exclusions',
      fields: { value: shown },
      button: `Exclude ${shown}`,
      cancel: '/directory',
    });
  };
  getPage(app, deps, '/directory/exclusions/new', 'admin', (x) => exclusionConfirm(x, null));
  postForm(app, deps, '/directory/exclusions', 'admin', () => '/directory', async (x) => {
    if (!confirmed(x.form)) return exclusionConfirm(x, x.form);
    const out = await x.call(createExclusion, exclusionInput(field(x.form, 'value')));
    return flashRedirect(deps, x.c, '/directory', outcomeCode(out, 'excluded'));
  });
  postForm(app, deps, '/directory/exclusions/:id/delete', 'admin', () => '/directory', async ({ c, call }) => {
    const out = await call(deleteExclusion, { id: idOf(c) });
    return flashRedirect(deps, c, '/directory', outcomeCode(out, 'exclusion-removed'));
  });
  postForm(app, deps, '/directory/reviews/:id/approve', 'admin', () => '/directory', async ({ c, call }) => {
    const out = await call(approveReview, { id: idOf(c) });
    return flashRedirect(deps, c, '/directory', 'approved');
  });
  postForm(app, deps, '/directory/reviews/:id/reject', 'admin', () => '/directory', async ({ c, call }) => {
    const out = await call(rejectReview, { id: idOf(c) });
    return flashRedirect(deps, c, '/directory', 'rejected');
  });
  postForm(app, deps, '/directory/users', 'admin', () => '/directory', async ({ c, form, call }) => {
    const email = field(form, 'email').trim();
    const out = (await call(createUser, { username: field(form, 'username'), email: email || undefined, password: field(form, 'password'), role: field(form, 'role') || 'member' })) as { username?: string };
    return flashRedirect(deps, c, '/directory', 'user-created');
  });
  postForm(app, deps, '/directory/users/:id', 'admin', () => '/directory', async ({ c, form, call }) => {
    await call(updateUser, { id: idOf(c), role: field(form, 'role'), disabled: field(form, 'disabled') === 'true' });
    return flashRedirect(deps, c, '/directory', 'user-saved');
  });
  postForm(app, deps, '/directory/users/:id/password', 'admin', () => '/directory', async ({ c, form, call }) => {
    await call(updateUser, { id: idOf(c), password: field(form, 'password') });
    return flashRedirect(deps, c, '/directory', 'password-reset');
  });

  // ----- Setup check
  getPage(app, deps, '/setup', 'admin', async ({ c, session, call }) => {
    const email = (c.req.query('email') ?? '').trim().slice(0, 320);
    let out: Awaited<ReturnType<typeof checkSetup.run>> | null = null;
    let err: string | undefined;
    try {
      out = await call(checkSetup, email ? { email } : {});
    } catch (e) {
      err = e instanceof Error ? e.message : String(e);
    }
    return render(
      c,
      <Layout title="Setup check" session={session} path="/setup" flash={{ err }}>
        <h1>Setup check</h1>
        {out && (
          <table>
            <tbody>
              {out.items.map((i) => (
                <tr>
                  <th scope="row">{i.name}</th>
                  <td>
                    <span class={`pill ${i.ok ? 'ok' : 'bad'}`}>{i.ok ? 'ok' : 'problem'}</span> {i.detail}
                    {i.fix && <div class="small">Fix: {i.fix}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Probe a mailbox</h2>
        <form method="get" action="/setup" class="row">
          <label>
            Mailbox address
            <input type="email" name="email" value={email} maxlength={320} required />
          </label>
          <button type="submit">Probe (token grant + getProfile)</button>
        </form>
        {out?.probe && (
          <div id="probe" class={`banner ${out.probe.ok ? 'ok' : 'err'}`} role="status">
            {out.probe.ok ? (
              <>
                {out.probe.email}: Google granted a token and answered getProfile — {out.probe.messages_total ?? '?'} messages, history id {out.probe.history_id}.
              </>
            ) : (
              <>
                <div>
                  {out.probe.email}: {out.probe.error}
                </div>
                <div>Fix: {out.probe.fix}</div>
              </>
            )}
          </div>
        )}
      </Layout>,
    );
  });
}

/**
 * What the last verification against Gmail found: messages Gmail had that the store lacked
 * (missing), how many of those it fetched (repaired), and copies Gmail no longer has (gone,
 * marked deleted). Flagged while anything missing is still unrepaired.
 */
function LastVerify({ v }: { v: { at: string; missing: number; gone: number; repaired: number; held_at: string | null } | null }) {
  if (!v) return <span class="muted">never verified</span>;
  const unrepaired = v.missing - v.repaired;
  return (
    <>
      <When at={v.at} />
      <div>
        <span class={`pill ${unrepaired > 0 ? 'bad' : 'ok'}`}>{unrepaired > 0 ? `${unrepaired} still missing` : 'complete'}</span>
      </div>
      <div class={v.missing > 0 || v.gone > 0 ? undefined : 'muted'}>
        missing {v.missing} · repaired {v.repaired} · gone {v.gone}
      </div>
      {unrepaired > 0 && (
        <div class="muted">
          last complete: <When at={v.held_at} />
        </div>
      )}
    </>
  );
}

async function accountEmail(x: Ctx): Promise<string> {
  const id = idOf(x.c);
  const st = await x.call(status, {});
  const a = st.accounts.find((r) => r.id === id);
  if (!a) throw new AppError('NOT_FOUND', `no mailbox with id ${id}`);
  return a.email;
}

/** The submitted rows with the import's error beside the row it names. */
function ImportErrors({ text, format, error }: { text: string; format: string; error: string }) {
  // CSV errors name the file line ("row 2 (line 3)"), JSON ones the array row ("row 2").
  const m = (format === 'json' ? null : /^row \d+ \(line (\d+)\)/.exec(error)) ?? /^(?:row|line) (\d+)\b/.exec(error);
  const n = m ? Number(m[1]) : null;
  let rows: string[] = [];
  if (format === 'json') {
    try {
      const v = JSON.parse(text);
      rows = Array.isArray(v) ? v.map((r) => JSON.stringify(r)) : [];
    } catch {
      rows = [];
    }
  } else rows = text.replace(/\r\n?/g, '\n').split('\n');
  const label = format === 'json' ? 'row' : 'line';
  return (
    <div role="alert">
      <p class="banner err">Nothing was imported: {error}</p>
      {rows.length > 0 && n !== null && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{label}</th>
                <th scope="col">data</th>
                <th scope="col">problem</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, 2000).map((r, i) => (
                <tr class={i + 1 === n ? 'bad-row' : undefined} id={i + 1 === n ? 'bad-row' : undefined}>
                  <td>{i + 1}</td>
                  <td>
                    <code>{r}</code>
                  </td>
                  <td class="err-cell">{i + 1 === n ? error.replace(/^(row|line) \d+( \(line \d+\))?:\s*/, '') : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
