// One's own account (changing one's password), and for the admin the audit trail and the
// feed tokens: the console's view of POST /api/auth/password, GET /api/audit and
// /api/feed/tokens, through the same handlers.
import { changePassword } from '../../../functions/changePassword.js';
import { createFeedToken } from '../../../functions/createFeedToken.js';
import { deleteFeedToken } from '../../../functions/deleteFeedToken.js';
import { listAudit } from '../../../functions/listAudit.js';
import { listFeedTokens } from '../../../functions/listFeedTokens.js';
import type { Deps } from '../../core/deps.js';
import { toAppError } from '../../core/errors.js';
import type { App } from '../../http/access.js';
import { confirmed, confirmPage, field, flashOf, getPage, idOf, postForm, render, flashRedirect, type Ctx } from '../kit.js';
import { Csrf, Layout, When } from '../layout.js';

const AUDIT_PAGE = 100;

export function registerAccountPages(app: App, deps: Deps): void {
  // ----- Account
  const accountPage = ({ c, session }: Ctx, refused?: { message: string; field?: string }) => {
    const bad = (f: string) => (refused?.field === f ? { 'aria-invalid': 'true', 'aria-describedby': 'password-err' } : {});
    return render(
      c,
      <Layout title="Your account" session={session} path="/account" flash={refused ? {} : flashOf(deps, c)}>
        <h1>Your account</h1>
        <p>
          Signed in as <strong>{session.actor.username}</strong> ({session.actor.role}).
        </p>
        <h2 id="password-h">Change your password</h2>
        <form method="post" action="/account/password" class="col" aria-labelledby="password-h">
          <Csrf session={session} />
          {refused && (
            <p class="banner err" role="alert" id="password-err">
              Not changed: {refused.message}
            </p>
          )}
          <label>
            Current password
            <input name="current_password" type="password" autocomplete="current-password" required {...bad('current_password')} />
          </label>
          <label>
            New password
            <input name="new_password" type="password" autocomplete="new-password" required {...bad('new_password')} />
          </label>
          <label>
            New password again
            <input name="new_password_again" type="password" autocomplete="new-password" required {...bad('new_password_again')} />
          </label>
          <button type="submit">Change password</button>
          <p class="small muted">Your other sessions (other browsers, API tokens) are signed out; this one stays.</p>
        </form>
      </Layout>,
      refused ? 400 : 200,
    );
  };
  getPage(app, deps, '/account', 'user', (x) => accountPage(x));
  postForm(app, deps, '/account/password', 'user', () => '/account', async (x) => {
    const next = field(x.form, 'new_password');
    if (next !== field(x.form, 'new_password_again')) return accountPage(x, { message: 'New password again: does not match the new password.', field: 'new_password_again' });
    try {
      await x.call(changePassword, { current_password: field(x.form, 'current_password'), new_password: next });
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'VALIDATION') throw err;
      const label = e.field === 'current_password' ? 'Current password' : e.field === 'new_password' ? 'New password' : undefined;
      const rest = e.field && e.message.startsWith(`${e.field}:`) ? e.message.slice(e.field.length + 1).trim() : e.message;
      return accountPage(x, { message: label ? `${label}: ${rest}` : rest, field: e.field });
    }
    return flashRedirect(deps, x.c, '/account', 'password-changed');
  });

  // ----- Audit (admin)
  getPage(app, deps, '/audit', 'admin', async ({ c, session, call }) => {
    const cursor = c.req.query('cursor');
    const page = await call(listAudit, { limit: AUDIT_PAGE, ...(cursor ? { cursor } : {}) });
    return render(
      c,
      <Layout title="Audit" session={session} path="/audit">
        <h1>Audit trail</h1>
        <p class="small muted">Who changed the directory, exclusions, mailboxes and users, the held changes and their decisions, and what rematch withheld, newest first.</p>
        {page.entries.length === 0 ? (
          <p class="muted">Nothing recorded yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Target</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {page.entries.map((e) => {
                  const purge = e.action === 'rematch.purge';
                  return (
                    <tr class={purge ? 'bad-row' : undefined}>
                      <td data-label="When">
                        <When at={e.at} />
                      </td>
                      <td data-label="Who">{e.user ? e.user.username : <span class="muted">the service</span>}</td>
                      <td data-label="What">{purge ? <strong>{e.action}</strong> : e.action}</td>
                      <td data-label="Target">{e.target ?? ''}</td>
                      <td data-label="Detail" class="small">
                        <AuditDetail action={e.action} detail={e.detail} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <p>
          {cursor && <a href="/audit">Newest</a>} {page.next_cursor && <a href={`/audit?cursor=${encodeURIComponent(page.next_cursor)}`}>Older entries →</a>}
        </p>
      </Layout>,
    );
  });

  // ----- Feed tokens (admin)
  const feedPage = async ({ c, session, call }: Ctx, created?: { name: string; token: string }) => {
    const { tokens } = await call(listFeedTokens, {});
    return render(
      c,
      <Layout title="Feed tokens" session={session} path="/feed-tokens" flash={created ? {} : flashOf(deps, c)}>
        <h1>Feed tokens</h1>
        <p class="small muted">
          A feed token lets a program on the box read the change feed (<code>GET /api/feed</code>) and download files; it cannot sign in to the console or change anything.
        </p>
        {created && (
          <div class="banner ok" role="status">
            <p>
              Token for <strong>{created.name}</strong>. It is shown this once: copy it now.
            </p>
            <label>
              Token
              <input readonly value={created.token} size={60} />
            </label>
          </div>
        )}
        <form method="post" action="/feed-tokens" class="row">
          <Csrf session={session} />
          <label>
            Name (what uses it)
            <input name="name" required maxlength={100} />
          </label>
          <button type="submit">Create token</button>
        </form>
        {tokens.length === 0 ? (
          <p class="muted">No feed tokens.</p>
        ) : (
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => (
                  <tr>
                    <td data-label="Name">{t.name}</td>
                    <td data-label="Created">
                      <When at={t.created_at} />
                    </td>
                    <td data-label="Last used">
                      <When at={t.last_used_at} />
                    </td>
                    <td data-label="Actions">
                      <form method="post" action={`/feed-tokens/${t.id}/delete`} class="inline">
                        <Csrf session={session} />
                        <button type="submit" class="danger" aria-label={`Revoke feed token ${t.name}`}>
                          Revoke…
                        </button>
                      </form>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
    );
  };
  getPage(app, deps, '/feed-tokens', 'admin', (x) => feedPage(x));
  // The token is in this answer only (the database keeps its hash), so the post answers the page itself.
  postForm(app, deps, '/feed-tokens', 'admin', () => '/feed-tokens', async (x) => {
    const t = await x.call(createFeedToken, { name: field(x.form, 'name') });
    return feedPage(x, { name: t.name, token: t.token });
  });
  postForm(app, deps, '/feed-tokens/:id/delete', 'admin', () => '/feed-tokens', async (x) => {
    const id = idOf(x.c);
    if (!confirmed(x.form)) {
      const { tokens } = await x.call(listFeedTokens, {});
      const t = tokens.find((k) => k.id === id);
      return confirmPage(x, {
        title: `Revoke feed token ${t?.name ?? id}?`,
        consequence: <p>The program using it can no longer read the feed or download files, at once. A new token has to be created and given to it.</p>,
        action: `/feed-tokens/${id}/delete`,
        button: 'Revoke',
        cancel: '/feed-tokens',
      });
    }
    await x.call(deleteFeedToken, { id });
    return flashRedirect(deps, x.c, '/feed-tokens', 'feed-token-revoked');
  });
}

/** An entry's detail in words where it matters (a purge's counts), else its JSON, shortened. */
function AuditDetail({ action, detail }: { action: string; detail: Record<string, unknown> }) {
  if (action === 'rematch.purge') {
    return (
      <strong>
        {String(detail.emails ?? 0)} emails withheld (bodies deleted), {String(detail.attachments ?? 0)} files removed
      </strong>
    );
  }
  const json = JSON.stringify(detail);
  if (json === '{}') return <span class="muted">—</span>;
  return <code>{json.length > 300 ? `${json.slice(0, 300)}…` : json}</code>;
}
