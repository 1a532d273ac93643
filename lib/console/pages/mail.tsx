// What every signed-in user reads: investors, one investor with its threads, one thread,
// and search. Unmatched mail is never shown: threads and files come through the handlers
// that enforce that rule.
import { createContact } from '../../../functions/createContact.js';
import { createInvestor } from '../../../functions/createInvestor.js';
import { isPendingReview } from '../../directory/review.js';
import { directoryPolicy, externalAddress, investorDomain, normaliseList } from '../../directory/directory.js';
import { deleteContact } from '../../../functions/deleteContact.js';
import { getInvestor } from '../../../functions/getInvestor.js';
import { getInvestorInsights } from '../../../functions/getInvestorInsights.js';
import { getThread } from '../../../functions/getThread.js';
import { listThreads } from '../../../functions/listThreads.js';
import { searchMail } from '../../../functions/searchMail.js';
import { updateContact } from '../../../functions/updateContact.js';
import { updateInvestor } from '../../../functions/updateInvestor.js';
import type { Deps } from '../../core/deps.js';
import { toAppError } from '../../core/errors.js';
import type { App } from '../../http/access.js';
import { countEmails, HIT_END, HIT_START } from '../../search/index.js';
import { confirmed, confirmPage, field, flashOf, getPage, idOf, postForm, render, outcomeCode, flashRedirect, type Ctx } from '../kit.js';
import { bytes, Csrf, Layout, person, When } from '../layout.js';
import { mailDocument, mailFrameSize, sanitiseMailHtml, splitQuoted } from '../mailBody.js';
import { contactsByAddress, INVESTORS_PAGE, investorsOverview, linkedEmailIds, threadInvestors, threadMarks, withdrawPreview } from '../read.js';
import { getContact } from '../../../functions/getContact.js';
import { getContactInsights } from '../../../functions/getContactInsights.js';
import { deleteInvestor } from '../../../functions/deleteInvestor.js';
import { InsightsPanel } from './insights.js';

/** Search results per page. */
const SEARCH_PAGE = 30;
/** Threads per page of an investor's or a contact's list. */
const THREADS_PAGE = 25;

export function registerMailPages(app: App, deps: Deps): void {
  getPage(app, deps, '/', 'user', async ({ c, session }) => {
    const q = (c.req.query('q') ?? '').slice(0, 200);
    const sort = c.req.query('sort') === 'name' ? 'name' : 'activity';
    const startRaw = Number(c.req.query('start') ?? 0);
    const start = Number.isInteger(startRaw) && startRaw >= 0 && startRaw <= 10_000_000 ? startRaw : 0;
    const { rows, total } = await investorsOverview(deps.db, { q, sort, offset: start });
    const pageLink = (from: number) => {
      const u = new URLSearchParams();
      if (q) u.set('q', q);
      if (sort !== 'activity') u.set('sort', sort);
      if (from) u.set('start', String(from));
      const qs = u.toString();
      return qs ? `/?${qs}` : '/';
    };
    return render(
      c,
      <Layout title="Investors" session={session} path="/" flash={flashOf(deps, c)}>
        <h1>Investors</h1>
        <p>
          <a href="/investors/new">Add an investor…</a>
        </p>
        <form method="get" action="/" class="row" role="search">
          <label>
            Name, domain or address
            <input type="search" name="q" value={q} maxlength={200} />
          </label>
          <label>
            Sort by
            <select name="sort">
              <option value="activity" selected={sort === 'activity'}>
                Last activity
              </option>
              <option value="name" selected={sort === 'name'}>
                Name
              </option>
            </select>
          </label>
          <button type="submit">Show</button>
        </form>
        <p class="small muted" id="investor-count">
          {total === 0 ? 'No investors.' : rows.length === total ? `${total} investor${total === 1 ? '' : 's'}` : rows.length === 0 ? `No more investors: all ${total} were on earlier pages.` : `Investors ${start + 1}–${start + rows.length} of ${total}`}
        </p>
        <div class="table-wrap">
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">Investor</th>
                <th scope="col">Domains</th>
                <th scope="col">Last activity</th>
                <th scope="col">Threads</th>
                <th scope="col">Partners</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td data-label="Investor">
                    <a href={`/investors/${r.id}`}>{r.name}</a>
                  </td>
                  <td data-label="Domains">{r.domains || <span class="muted">—</span>}</td>
                  <td data-label="Last activity">
                    <When at={r.last_at} />
                  </td>
                  <td data-label="Threads">{r.threads}</td>
                  <td data-label="Partners">{r.partners.join(', ') || <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {(start > 0 || start + rows.length < total) && (
          <nav class="row" aria-label="Investor pages">
            {start > 0 && <a href={pageLink(Math.max(0, start - INVESTORS_PAGE))}>← Previous {INVESTORS_PAGE}</a>}
            {start + rows.length < total && <a href={pageLink(start + INVESTORS_PAGE)}>Next {Math.min(INVESTORS_PAGE, total - start - rows.length)} →</a>}
          </nav>
        )}
      </Layout>,
    );
  });

  /**
   * A new investor: name, domains and addresses, with the same rules and refusals as
   * POST /api/investors. A refusal shows the form again (400) with what was typed and the
   * reason beside the field it names. Registered before /investors/:id, which would take "new".
   */
  const newInvestorPage = ({ c, session }: Ctx, refused?: { values: { name: string; domains: string; emails: string }; message: string; field?: string }) => {
    const v = refused?.values ?? { name: '', domains: '', emails: '' };
    const bad = (f: string) => (refused?.field === f ? { 'aria-invalid': 'true', 'aria-describedby': 'new-err' } : {});
    return render(
      c,
      <Layout title="New investor" session={session}>
        <p class="small">
          <a href="/">← Investors</a>
        </p>
        <h1>New investor</h1>
        <form method="post" action="/investors" class="col">
          <Csrf session={session} />
          {refused && (
            <p class="banner err" role="alert" id="new-err">
              Not created: {refused.message}
            </p>
          )}
          <label>
            Name
            <input name="name" value={v.name} required maxlength={200} {...bad('name')} />
          </label>
          <label>
            Domains (one per line)
            <textarea name="domains" rows={3} {...bad('domains')}>
              {v.domains}
            </textarea>
          </label>
          <label>
            Addresses (one per line)
            <textarea name="emails" rows={3} {...bad('emails')}>
              {v.emails}
            </textarea>
          </label>
          <p class="small muted">Mail from these domains and addresses becomes readable here; the firm’s own, free-mail and public-suffix domains are refused.</p>
          <button type="submit">Create</button>
        </form>
      </Layout>,
      refused ? 400 : 200,
    );
  };
  getPage(app, deps, '/investors/new', 'user', (x) => newInvestorPage(x));
  postForm(app, deps, '/investors', 'user', () => '/investors/new', async (x) => {
    const values = { name: field(x.form, 'name'), domains: field(x.form, 'domains'), emails: field(x.form, 'emails') };
    const domains = numberedLines(values.domains);
    const emails = numberedLines(values.emails);
    try {
      const out = await x.call(createInvestor, { name: values.name, domains: domains.map((l) => l.value), emails: emails.map((l) => l.value) });
      // Held for review, the investor does not exist yet: there is no page of it to go to.
      if (isPendingReview(out)) return flashRedirect(deps, x.c, '/', 'investor-held');
      return flashRedirect(deps, x.c, `/investors/${out.id}`, 'investor-created');
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'VALIDATION' && e.code !== 'CONFLICT') throw err;
      return newInvestorPage(x, { values, ...formError(e.message, e.field, { name: ['Name', []], domains: ['Domains', domains], emails: ['Addresses', emails] }) });
    }
  });

  /**
   * One investor's page. After a refused edit it is shown again (400) with what was typed
   * and the reason beside the field it names, so nothing typed is lost.
   */
  const investorPage = async ({ c, session, call }: Ctx, refused?: RefusedEdit) => {
    const id = idOf(c);
    const inv = await call(getInvestor, { id });
    const cursor = c.req.query('cursor') || undefined;
    const page = await call(listThreads, { investor_id: id, limit: THREADS_PAGE, cursor });
    const marks = await threadMarks(deps.db, page.threads.map((t) => t.id));
    const insights = await call(getInvestorInsights, { id });
    const self = `/investors/${id}`;
    const mine = (form: RefusedEdit['form']) => (refused?.form === form ? refused : undefined);
    const typed = mine('investor')?.values ?? { name: inv.name, domains: inv.domains.join('\n'), emails: inv.emails.join('\n') };
    const errId = (form: RefusedEdit['form']) => (form === 'investor' ? 'edit-err' : form === 'new-contact' ? 'contact-new-err' : `contact-${form}-err`);
    const bad = (form: RefusedEdit['form'], f: string) => (refused?.form === form && refused.field === f ? { 'aria-invalid': 'true', 'aria-describedby': errId(form) } : {});
    const Refusal = ({ form }: { form: RefusedEdit['form'] }) =>
      refused?.form === form ? (
        <p class="banner err" role="alert" id={errId(form)}>
          Not saved: {refused.message}
        </p>
      ) : null;
    return render(
      c,
      <Layout title={inv.name} session={session} flash={refused ? {} : flashOf(deps, c)}>
        <p class="small">
          <a href="/">← Investors</a>
        </p>
        <h1>{inv.name}</h1>
        <div class="grid2">
          <section aria-labelledby="edit-h">
            <h2 id="edit-h">Name, domains and addresses</h2>
            <form method="post" action={`${self}/edit`} class="col">
              <Csrf session={session} />
              <Refusal form="investor" />
              <label>
                Name
                <input name="name" value={typed.name} required maxlength={200} {...bad('investor', 'name')} />
              </label>
              <label>
                Domains (one per line)
                <textarea name="domains" rows={3} {...bad('investor', 'domains')}>
                  {typed.domains}
                </textarea>
              </label>
              <label>
                Addresses (one per line)
                <textarea name="emails" rows={3} {...bad('investor', 'emails')}>
                  {typed.emails}
                </textarea>
              </label>
              <button type="submit">Save</button>
            </form>
          </section>
          <section aria-labelledby="contacts-h">
            <h2 id="contacts-h">Contacts</h2>
            {inv.contacts.length === 0 && <p class="muted">No contacts yet.</p>}
            {inv.contacts.map((ct) => {
              const v = mine(ct.id)?.values ?? { name: ct.name, emails: ct.emails.join(', ') };
              return (
              <form method="post" action={`${self}/contacts/${ct.id}`} class="row">
                <Csrf session={session} />
                <Refusal form={ct.id} />
                <label>
                  Name
                  <input name="name" value={v.name} required maxlength={200} {...bad(ct.id, 'name')} />
                </label>
                <label>
                  Addresses
                  <input name="emails" value={v.emails} size={28} {...bad(ct.id, 'emails')} />
                </label>
                <button type="submit" name="action" value="save">
                  Save
                </button>
                <a href={`/contacts/${ct.id}`} aria-label={`Threads with ${ct.name}`}>
                  Threads
                </a>
                <a href={`${self}/contacts/${ct.id}/delete`} class="danger" aria-label={`Delete contact ${ct.name}`}>
                  Delete…
                </a>
              </form>
              );
            })}
            <h3 class="small">Add a contact</h3>
            <form method="post" action={`${self}/contacts`} class="row">
              <Csrf session={session} />
              <Refusal form="new-contact" />
              <label>
                Name
                <input name="name" required maxlength={200} value={mine('new-contact')?.values.name ?? ''} {...bad('new-contact', 'name')} />
              </label>
              <label>
                Addresses
                <input name="emails" size={28} value={mine('new-contact')?.values.emails ?? ''} {...bad('new-contact', 'emails')} />
              </label>
              <button type="submit">Add</button>
            </form>
          </section>
        </div>
        <p class="small">
          <a href={`${self}/delete`} class="danger">
            Delete this investor…
          </a>
        </p>
        <InsightsPanel ins={insights} />
        <ThreadList page={page} marks={marks} self={self} cursor={cursor} />
      </Layout>,
      refused ? 400 : 200,
    );
  };
  getPage(app, deps, '/investors/:id', 'user', (x) => investorPage(x));

  /**
   * One contact: addresses, investor, relationship, and the threads involving them, newest
   * activity first and paged like the investor's (listThreads by contact_id, so only matched
   * mail lists a thread). Editing and deleting stay on the investor's page, beside its other
   * contacts.
   */
  getPage(app, deps, '/contacts/:id', 'user', async ({ c, session, call }) => {
    const id = idOf(c);
    const ct = await call(getContact, { id });
    const inv = ct.investor_id === null ? null : await call(getInvestor, { id: ct.investor_id });
    const cursor = c.req.query('cursor') || undefined;
    const page = await call(listThreads, { contact_id: id, limit: THREADS_PAGE, cursor });
    const marks = await threadMarks(deps.db, page.threads.map((t) => t.id));
    const insights = await call(getContactInsights, { id });
    return render(
      c,
      <Layout title={ct.name} session={session}>
        <p class="small">{inv ? <a href={`/investors/${inv.id}`}>← {inv.name}</a> : <a href="/">← Investors</a>}</p>
        <h1>{ct.name}</h1>
        <dl class="facts">
          <dt>Investor</dt>
          <dd>{inv ? <a href={`/investors/${inv.id}`}>{inv.name}</a> : <span class="muted">none</span>}</dd>
          <dt>Addresses</dt>
          <dd>{ct.emails.length ? ct.emails.join(', ') : <span class="muted">none</span>}</dd>
        </dl>
        {inv && (
          <p class="small muted">
            Change or delete this contact on <a href={`/investors/${inv.id}#contacts-h`}>{inv.name}’s page</a>.
          </p>
        )}
        <InsightsPanel ins={insights} />
        <ThreadList page={page} marks={marks} self={`/contacts/${id}`} cursor={cursor} />
      </Layout>,
    );
  });

  postForm(app, deps, '/investors/:id/edit', 'user', (c) => `/investors/${c.req.param('id')}`, async (x) => {
    const { c, form, call } = x;
    const id = idOf(c);
    const values = { name: field(form, 'name'), domains: field(form, 'domains'), emails: field(form, 'emails') };
    const domains = numberedLines(values.domains);
    const emails = numberedLines(values.emails);
    try {
      if (!confirmed(form)) {
        const ask = await investorEditConfirm(x, id, values, domains.map((l) => l.value), emails.map((l) => l.value));
        if (ask) return ask;
      }
      const out = await call(updateInvestor, { id, name: values.name, domains: domains.map((l) => l.value), emails: emails.map((l) => l.value) });
      return flashRedirect(deps, c, `/investors/${id}`, outcomeCode(out, 'saved'));
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'VALIDATION' && e.code !== 'CONFLICT') throw err;
      return investorPage(x, { form: 'investor', values, ...formError(e.message, e.field, { name: ['Name', []], domains: ['Domains', domains], emails: ['Addresses', emails] }) });
    }
  });

  /**
   * Saving with domains or addresses removed withholds the mail that matched only through
   * them, so that save asks first, like a deletion: the confirmation counts the emails and
   * files it would take, with the rematch's own matching over the directory as it would be.
   * Answers nothing (save at once) when nothing would be withheld. The lists are checked here
   * with the handler's own rules, so a bad entry is refused before anything is counted.
   */
  const investorEditConfirm = async (x: Ctx, id: number, values: { name: string }, rawDomains: string[], rawEmails: string[]) => {
    const policy = directoryPolicy(deps.config);
    const domains = normaliseList(rawDomains, 'domains', investorDomain(policy));
    const emails = normaliseList(rawEmails, 'emails', externalAddress(policy));
    const inv = await x.call(getInvestor, { id });
    const removed = [...inv.domains.filter((d) => !domains.includes(d)), ...inv.emails.filter((e) => !emails.includes(e))];
    if (!removed.length) return null;
    const p = await withdrawPreview(deps.db, deps.config.gmail.workspaceDomains, await linkedEmailIds(deps.db, { investor_id: id }), (d) => ({
      ...d,
      investors: d.investors.map((k) => (k.id === id ? { ...k, domains, emails } : k)),
    }));
    if (p.emails === 0) return null;
    return removalConfirm(x, {
      name: inv.name,
      removed,
      many: 'domains and addresses',
      p,
      action: `/investors/${id}/edit`,
      fields: { name: values.name, domains: domains.join('\n'), emails: emails.join('\n') },
      cancel: `/investors/${id}`,
    });
  };

  /** The confirmation of a save that removes domains or addresses and would withhold mail. */
  const removalConfirm = (
    x: Ctx,
    o: { name: string; removed: string[]; many: string; p: Parameters<typeof Withdrawal>[0]['p']; action: string; fields: Record<string, string>; cancel: string },
  ) =>
    confirmPage(x, {
      title: `Save ${o.name} without ${o.removed.length === 1 ? o.removed[0] : `${o.removed.length} ${o.many}`}?`,
      consequence: (
        <>
          <p>
            Removed: <strong>{o.removed.join(', ')}</strong>.
          </p>
          <Withdrawal p={o.p} what="what is removed" />
        </>
      ),
      action: o.action,
      fields: o.fields,
      button: 'Save and withhold that mail',
      cancel: o.cancel,
    });

  /** A contact's save that removes addresses asks first, as the investor's does. */
  const contactEditConfirm = async (x: Ctx, id: number, cid: number, name: string, raw: string[]) => {
    const emails = normaliseList(raw, 'emails', externalAddress(directoryPolicy(deps.config)));
    const ct = await x.call(getContact, { id: cid });
    const removed = ct.emails.filter((e) => !emails.includes(e));
    if (!removed.length) return null;
    const p = await withdrawPreview(deps.db, deps.config.gmail.workspaceDomains, await linkedEmailIds(deps.db, { contact_id: cid }), (d) => ({
      ...d,
      contacts: d.contacts.map((k) => (k.id === cid ? { ...k, emails } : k)),
    }));
    if (p.emails === 0) return null;
    return removalConfirm(x, {
      name: ct.name,
      removed,
      many: 'addresses',
      p,
      action: `/investors/${id}/contacts/${cid}`,
      fields: { action: 'save', name, emails: emails.join(', ') },
      cancel: `/investors/${id}`,
    });
  };

  /** A contact form's post; a refusal shows the investor's page again with what was typed in that form. */
  const contactWrite = async (
    x: Ctx,
    form: 'new-contact' | number,
    write: (name: string, emails: string[]) => Promise<unknown>,
    done: 'contact-added' | 'contact-saved',
    ask?: (name: string, emails: string[]) => Promise<Response | null>,
  ) => {
    const id = idOf(x.c);
    const values = { name: field(x.form, 'name'), emails: field(x.form, 'emails') };
    const emails = numberedLines(values.emails.replace(/\n/g, ',')).map((l, i) => ({ ...l, line: i + 1 }));
    try {
      const asked = ask && !confirmed(x.form) ? await ask(values.name, emails.map((l) => l.value)) : null;
      if (asked) return asked;
      const out = await write(values.name, emails.map((l) => l.value));
      return flashRedirect(deps, x.c, `/investors/${id}`, outcomeCode(out, done));
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'VALIDATION' && e.code !== 'CONFLICT') throw err;
      return investorPage(x, { form, values, ...formError(e.message, e.field, { name: ['Name', []], emails: ['Addresses', emails, 'address'] }) });
    }
  };

  postForm(app, deps, '/investors/:id/contacts', 'user', (c) => `/investors/${c.req.param('id')}`, (x) =>
    contactWrite(x, 'new-contact', (name, emails) => x.call(createContact, { name, emails, investor_id: idOf(x.c) }), 'contact-added'),
  );

  // Deleting is two steps: the confirmation (GET, or a post without the confirm field) says
  // how much captured mail would be withheld; only the confirmed post deletes.
  const contactDeleteConfirm = async (x: Ctx, id: number, cid: number) => {
    const ct = await x.call(getContact, { id: cid });
    const p = await withdrawPreview(deps.db, deps.config.gmail.workspaceDomains, await linkedEmailIds(deps.db, { contact_id: cid }), (d) => ({ ...d, contacts: d.contacts.filter((k) => k.id !== cid) }));
    return confirmPage(x, {
      title: `Delete contact ${ct.name}?`,
      consequence: <Withdrawal p={p} what="this contact" />,
      action: `/investors/${id}/contacts/${cid}`,
      fields: { action: 'delete' },
      button: `Delete ${ct.name}`,
      cancel: `/investors/${id}`,
    });
  };
  getPage(app, deps, '/investors/:id/contacts/:cid/delete', 'user', (x) => contactDeleteConfirm(x, idOf(x.c), idOf(x.c, 'cid')));

  const investorDeleteConfirm = async (x: Ctx, id: number) => {
    const inv = await x.call(getInvestor, { id });
    const p = await withdrawPreview(deps.db, deps.config.gmail.workspaceDomains, await linkedEmailIds(deps.db, { investor_id: id }), (d) => ({
      ...d,
      investors: d.investors.filter((k) => k.id !== id),
      // Its contacts stay, without an investor (deleteInvestor).
      contacts: d.contacts.map((k) => (k.investor_id === id ? { ...k, investor_id: null } : k)),
    }));
    return confirmPage(x, {
      title: `Delete investor ${inv.name}?`,
      consequence: (
        <>
          <Withdrawal p={p} what="this investor" />
          {inv.contacts.length > 0 && <p>{inv.contacts.length === 1 ? 'Its one contact stays' : `Its ${inv.contacts.length} contacts stay`}, without an investor.</p>}
        </>
      ),
      action: `/investors/${id}/delete`,
      button: `Delete ${inv.name}`,
      cancel: `/investors/${id}`,
    });
  };
  getPage(app, deps, '/investors/:id/delete', 'user', (x) => investorDeleteConfirm(x, idOf(x.c)));
  postForm(app, deps, '/investors/:id/delete', 'user', (c) => `/investors/${c.req.param('id')}`, async (x) => {
    const id = idOf(x.c);
    if (!confirmed(x.form)) return investorDeleteConfirm(x, id);
    const out = await x.call(deleteInvestor, { id });
    return flashRedirect(deps, x.c, '/', outcomeCode(out, 'investor-deleted'));
  });

  postForm(app, deps, '/investors/:id/contacts/:cid', 'user', (c) => `/investors/${c.req.param('id')}`, async (x) => {
    const { c, form, call } = x;
    const id = idOf(c);
    const cid = idOf(c, 'cid');
    if (field(form, 'action') === 'delete') {
      if (!confirmed(form)) return contactDeleteConfirm(x, id, cid);
      const out = await call(deleteContact, { id: cid });
      return flashRedirect(deps, c, `/investors/${id}`, outcomeCode(out, 'contact-deleted'));
    }
    return contactWrite(x, cid, (name, emails) => call(updateContact, { id: cid, name, emails }), 'contact-saved', (name, raw) => contactEditConfirm(x, id, cid, name, raw));
  });

  getPage(app, deps, '/threads/:id', 'user', async ({ c, session, call }) => {
    const id = idOf(c);
    const thread = await call(getThread, { id });
    const images = Number(c.req.query('images') ?? 0);
    const showing = thread.messages.filter((m) => m.is_matched);
    const investors = await threadInvestors(deps.db, id);
    const contacts = await contactsByAddress(deps.db, showing.flatMap((m) => [m.from?.address ?? '', ...m.to.map((p) => p.address), ...m.cc.map((p) => p.address)]));
    // Remote images load only for the one message whose reader asked, straight from their host.
    const csp = `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:${images ? ' https: http:' : ''}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; frame-src 'self'`;
    return render(
      c,
      <Layout title={thread.subject || 'Thread'} session={session}>
        {/* Back to the investor(s) the thread belongs to, named, rather than to the list. */}
        <nav class="small" aria-label="Investors of this thread">
          {investors.length === 0 ? (
            <a href="/">← Investors</a>
          ) : (
            <>
              {investors.length === 1 ? 'Investor: ' : 'Investors: '}
              {investors.map((inv, i) => (
                <>
                  {i > 0 && ', '}
                  <a href={`/investors/${inv.id}`}>← {inv.name}</a>
                </>
              ))}
            </>
          )}
        </nav>
        <h1>{thread.subject || '(no subject)'}</h1>
        {showing.length < thread.messages.length && (
          <p class="small muted">
            {showing.length} of {thread.messages.length} messages shown; the others are internal-only and not captured in full.
          </p>
        )}
        {showing.map((m) => {
          const html = m.body_html ? sanitiseMailHtml(m.body_html, { loadImages: images === m.id }) : null;
          return (
            <article class="msg" id={`m${m.id}`} aria-label={`Message from ${person(m.from)}`}>
              <dl>
                <dt>From</dt>
                <dd>
                  <Person p={m.from} contacts={contacts} />
                </dd>
                <dt>To</dt>
                <dd>{m.to.length ? <People list={m.to} contacts={contacts} /> : '—'}</dd>
                {m.cc.length > 0 && <dt>Cc</dt>}
                {m.cc.length > 0 && (
                  <dd>
                    <People list={m.cc} contacts={contacts} />
                  </dd>
                )}
                <dt>Date</dt>
                <dd>
                  <When at={m.sent_at} />
                </dd>
              </dl>
              {html ? (
                <>
                  {html.blockedRemote > 0 && (
                    <p class="small muted">
                      {html.blockedRemote} remote image{html.blockedRemote > 1 ? 's' : ''} blocked (they tell the sender you read this).{' '}
                      <a href={`/threads/${id}?images=${m.id}#m${m.id}`}>Load images for this message</a>
                    </p>
                  )}
                  {images === m.id && (
                    <p class="small muted">
                      Images loaded directly from the sender’s servers. <a href={`/threads/${id}#m${m.id}`}>Block them again</a>
                    </p>
                  )}
                  <iframe class={`mail ${mailFrameSize(html.html)}`} title={`Message from ${person(m.from)}`} sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc={mailDocument(html.html, { loadImages: images === m.id })}></iframe>
                </>
              ) : m.body_text ? (
                splitQuoted(m.body_text).map((b) =>
                  b.quoted ? (
                    <details class="quoted">
                      <summary>Quoted text</summary>
                      <pre class="body">{b.text}</pre>
                    </details>
                  ) : (
                    <pre class="body">{b.text}</pre>
                  ),
                )
              ) : (
                <p class="muted">No body stored.</p>
              )}
              {m.attachments.length > 0 && (
                <ul class="files" aria-label="Attachments">
                  {m.attachments.map((a) => (
                    <li>
                      {a.state === 'saved' ? <a href={`/api/email/attachments/${a.id}`}>{a.filename || 'unnamed file'}</a> : <span>{a.filename || 'unnamed file'}</span>}{' '}
                      <span class="small muted">
                        {bytes(a.size)}
                        {a.state !== 'saved' ? ` · ${a.state === 'too_large' ? 'too large to download' : a.state}` : ''}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </article>
          );
        })}
      </Layout>,
      200,
      { 'Content-Security-Policy': csp },
    );
  });

  getPage(app, deps, '/search', 'user', async ({ c, session, call }) => {
    const q = (c.req.query('q') ?? '').trim().slice(0, 200);
    const startRaw = Number(c.req.query('start') ?? 0);
    const start = Number.isInteger(startRaw) && startRaw >= 0 && startRaw <= 10_000 ? startRaw : 0;
    let results: Awaited<ReturnType<typeof searchMail.run>>['results'] = [];
    let total = 0;
    let err: string | undefined;
    if (q) {
      try {
        results = (await call(searchMail, { q, limit: SEARCH_PAGE, offset: start })).results;
        total = await countEmails(deps.db, q);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
    }
    const contacts = await contactsByAddress(deps.db, results.map((r) => r.from?.address ?? ''));
    const pageLink = (from: number) => `/search?q=${encodeURIComponent(q)}${from ? `&start=${from}` : ''}`;
    return render(
      c,
      <Layout title="Search" session={session} path="/search" flash={{ err }}>
        <h1>Search mail</h1>
        <form method="get" action="/search" class="row" role="search">
          <label>
            Words in subject, body, people or file names
            <input type="search" name="q" value={q} maxlength={200} size={40} autofocus />
          </label>
          <button type="submit">Search</button>
        </form>
        {q && !err && (
          <p class="small muted" id="search-count">
            {total === 0 ? 'Nothing found.' : results.length === 0 ? `No more matches: all ${total} were on earlier pages.` : `Matches ${start + 1}–${start + results.length} of ${total}, best first.`}
          </p>
        )}
        <ol class="results" start={start + 1}>
          {results.map((r) => (
            <li>
              {r.thread_id ? <a href={`/threads/${r.thread_id}#m${r.email_id}`}>{r.subject || '(no subject)'}</a> : r.subject}
              <div class="small muted">
                <Person p={r.from} contacts={contacts} /> · <When at={r.sent_at} />
              </div>
              <div class="small">{highlight(r.snippet)}</div>
            </li>
          ))}
        </ol>
        {q && !err && (start > 0 || start + results.length < total) && (
          <nav class="row" aria-label="Result pages">
            {start > 0 && <a href={pageLink(Math.max(0, start - SEARCH_PAGE))}>← Better matches</a>}
            {start + results.length < total && start + SEARCH_PAGE <= 10_000 && <a href={pageLink(start + SEARCH_PAGE)}>Next {SEARCH_PAGE} matches →</a>}
          </nav>
        )}
      </Layout>,
    );
  });
}

interface RefusedEdit {
  /** Which form was refused: the investor's, the new contact's, or a contact's by id. */
  form: 'investor' | 'new-contact' | number;
  values: { name: string; domains?: string; emails: string };
  message: string;
  field?: string;
}

/** One entry per address or domain typed, with the textarea line it is on (1-based). */
function numberedLines(s: string): { value: string; line: number }[] {
  const out: { value: string; line: number }[] = [];
  s.split('\n').forEach((text, i) => {
    for (const v of text.split(',')) if (v.trim()) out.push({ value: v.trim(), line: i + 1 });
  });
  return out;
}

/**
 * A handler's refusal in the words of the form: `domains[1]: …` (an API path, counted from
 * 0 over the list sent) becomes `Domains, line 2: …`, the line the user typed it on.
 */
function formError<F extends string>(message: string, apiField: string | undefined, fields: Record<F, [string, { line: number }[], ('line' | 'address')?]>): { message: string; field?: F } {
  const m = /^([a-z_]+)(?:\[(\d+)\])?(?:\.[a-z_]+)?$/.exec(apiField ?? '');
  if (!m || !Object.hasOwn(fields, m[1]!)) return { message };
  const f = m[1] as F;
  const [label, entries, unit = 'line'] = fields[f];
  const where = m[2] !== undefined && entries[Number(m[2])] ? `${label}, ${unit} ${entries[Number(m[2])]!.line}` : label;
  const rest = message.startsWith(`${apiField}:`) ? message.slice(apiField!.length + 1).trim() : message;
  return { message: `${where}: ${rest}`, field: f };
}

/** What a narrowing change takes from the captured mail, in numbers. */
export const Withdrawal = ({ p, what }: { p: { matched: number; emails: number; files: number }; what: string }) =>
  p.emails === 0 ? (
    <p>
      No captured email would be withheld: {p.matched === 0 ? `none is matched through ${what}` : p.matched === 1 ? `the one email matched through ${what} still matches otherwise` : `the ${p.matched} emails matched through ${what} still match otherwise`}.
    </p>
  ) : (
    <p>
      <strong>
        {p.emails} email{p.emails === 1 ? '' : 's'} would be withheld: {p.emails === 1 ? 'its body is' : 'their bodies are'} deleted
        {p.files > 0 ? ` and ${p.files} saved file${p.files === 1 ? ' is' : 's are'} deleted from disk` : ''}.
      </strong>{' '}
      Only their metadata stays. Undoing this later fetches them again from Gmail, and only if Gmail still has them.
    </p>
  );

/** The snippet with the matched words marked; text stays text (escaped by JSX). */
function highlight(snippet: string) {
  const parts: (string | ReturnType<typeof Mark>)[] = [];
  for (const [i, chunk] of snippet.split(HIT_START).entries()) {
    if (i === 0) {
      parts.push(chunk);
      continue;
    }
    const end = chunk.indexOf(HIT_END);
    if (end < 0) parts.push(chunk);
    else parts.push(Mark({ text: chunk.slice(0, end) }), chunk.slice(end + 1));
  }
  return parts;
}

const Mark = ({ text }: { text: string }) => <mark class="hit">{text}</mark>;

type ThreadPage = Awaited<ReturnType<typeof listThreads.run>>;

/** An investor's or a contact's threads: one page, newest activity first, with links to the next. */
const ThreadList = ({ page, marks, self, cursor }: { page: ThreadPage; marks: Map<number, { participants: string[]; attachments: number }>; self: string; cursor?: string }) => (
    <section aria-labelledby="threads-h">
      <h2 id="threads-h">Threads</h2>
      {page.threads.length === 0 && <p class="muted">No captured correspondence yet.</p>}
      <div class="table-wrap">
        <table class="stack">
          <thead>
            <tr>
              <th scope="col">Subject</th>
              <th scope="col">Participants</th>
              <th scope="col">Messages</th>
              <th scope="col">Last activity</th>
              <th scope="col">Files</th>
            </tr>
          </thead>
          <tbody>
            {page.threads.map((t) => {
              const m = marks.get(t.id);
              const people = m?.participants ?? [];
              return (
                <tr>
                  <td data-label="Subject">
                    <a href={`/threads/${t.id}`}>{t.subject || '(no subject)'}</a>
                  </td>
                  <td data-label="Participants" class="small">
                    {people.slice(0, 4).join(', ')}
                    {people.length > 4 ? ` +${people.length - 4}` : ''}
                  </td>
                  <td data-label="Messages">{t.message_count}</td>
                  <td data-label="Last activity">
                    <When at={t.last_message_at} />
                  </td>
                  <td data-label="Files">{m && m.attachments > 0 ? <span class="pill">{m.attachments === 1 ? '1 file' : `${m.attachments} files`}</span> : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p>
        {cursor && <a href={self}>First page</a>} {page.next_cursor && <a href={`${self}?cursor=${encodeURIComponent(page.next_cursor)}`}>Older threads →</a>}
      </p>
    </section>
);

type ContactsByAddress = Map<string, { id: number; name: string }>;

/** A person as the mail names them, linked to their contact page when they are a contact. */
const Person = ({ p, contacts }: { p: { address: string; name: string | null } | null | undefined; contacts: ContactsByAddress }) => {
  const ct = p ? contacts.get(p.address.toLowerCase()) : undefined;
  return ct ? (
    <a href={`/contacts/${ct.id}`} title={`Contact: ${ct.name}`}>
      {person(p)}
    </a>
  ) : (
    <>{person(p)}</>
  );
};

const People = ({ list, contacts }: { list: { address: string; name: string | null }[]; contacts: ContactsByAddress }) => (
  <>
    {list.map((p, i) => (
      <>
        {i > 0 && ', '}
        <Person p={p} contacts={contacts} />
      </>
    ))}
  </>
);
