// The page frame and small pieces every console page uses. Plain HTML: forms post, links
// navigate; the one script (static/console.js) only localises dates and polls progress.
import type { Child, FC } from 'hono/jsx';
import type { Session } from './session.js';

interface PageProps {
  title: string;
  session: Session | null;
  /** The path the page answers, to mark the current tab. */
  path?: string;
  flash?: { ok?: string; err?: string };
  children?: Child;
}

const TABS: { href: string; label: string; admin?: boolean }[] = [
  { href: '/', label: 'Investors' },
  { href: '/search', label: 'Search' },
  { href: '/going-cold', label: 'Going cold' },
  { href: '/mailboxes', label: 'Mailboxes', admin: true },
  { href: '/runs', label: 'Runs', admin: true },
  { href: '/directory', label: 'Directory', admin: true },
  { href: '/setup', label: 'Setup check', admin: true },
  { href: '/audit', label: 'Audit', admin: true },
  { href: '/feed-tokens', label: 'Feed tokens', admin: true },
];

export const Layout: FC<PageProps> = ({ title, session, path, flash, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${title} · crm-gmail`}</title>
      <link rel="stylesheet" href="/static/console.css" />
      <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
      <script src="/static/console.js" defer></script>
    </head>
    <body>
      <a class="skip" href="#main">Skip to content</a>
      {session && (
        <header class="top">
          <strong>crm-gmail</strong>
          <nav aria-label="Main">
            {TABS.filter((t) => !t.admin || session.actor.role === 'admin').map((t) => (
              <a href={t.href} aria-current={path === t.href ? 'page' : undefined}>
                {t.label}
              </a>
            ))}
          </nav>
          <div class="who">
            <a class="small" href="/account" aria-current={path === '/account' ? 'page' : undefined}>
              {session.actor.username} ({session.actor.role})
            </a>
            <form method="post" action="/logout" class="inline">
              <Csrf session={session} />
              <button type="submit" class="secondary">
                Sign out
              </button>
            </form>
          </div>
        </header>
      )}
      <main id="main">
        {flash?.ok && (
          <p class="banner ok" role="status">
            {flash.ok}
          </p>
        )}
        {flash?.err && (
          <p class="banner err" role="alert">
            {flash.err}
          </p>
        )}
        {children}
      </main>
    </body>
  </html>
);

export const Csrf: FC<{ session: Session }> = ({ session }) => <input type="hidden" name="_csrf" value={session.csrf} />;

/** A time shown in UTC by the server and in the reader's zone by the script. */
export const When: FC<{ at: string | null | undefined }> = ({ at }) =>
  at ? <time datetime={at}>{at.slice(0, 16).replace('T', ' ')} UTC</time> : <span class="muted">never</span>;

export function person(p: { address: string; name: string | null } | null | undefined): string {
  if (!p) return '(unknown)';
  return p.name ? `${p.name} <${p.address}>` : p.address;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
