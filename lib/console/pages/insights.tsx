// Relationship insights in the console: the panel on an investor's page, the going-cold list
// and a partner's page. Everything comes from the insights handlers (metadata only), so what
// a partner sees here is exactly what GET /api/insights/* answers.
import type { FC } from 'hono/jsx';
import { getInvestorInsights } from '../../../functions/getInvestorInsights.js';
import { getPartnerInsights } from '../../../functions/getPartnerInsights.js';
import { listGoingCold } from '../../../functions/listGoingCold.js';
import type { Deps } from '../../core/deps.js';
import type { App } from '../../http/access.js';
import type { Ctx } from '../kit.js';
import { flashOf, getPage, idOf, render } from '../kit.js';
import { Layout, When } from '../layout.js';

type InvestorInsights = Awaited<ReturnType<typeof getInvestorInsights.run>>;

const hours = (h: number | null): string => (h === null ? '—' : h < 48 ? `${Math.round(h)} h` : `${Math.round(h / 24)} d`);

/** The panel on an investor's page: the score with its parts, last touches, and who knows them. */
export const InsightsPanel: FC<{ ins: InvestorInsights }> = ({ ins }) => (
  <section class="insights" id="insights" aria-labelledby="insights-h">
    <h2 id="insights-h">
      Relationship: <span data-score>{ins.strength.score}</span>/100
    </h2>
    <div class="table-wrap">
      <table>
        <caption class="small muted">How the score is made up</caption>
        <thead>
          <tr>
            <th scope="col">Part</th>
            <th scope="col">Points</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {ins.strength.parts.map((p) => (
            <tr>
              <td>{p.name}</td>
              <td>{p.value}</td>
              <td>{p.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    <p class="small">
      Last inbound: <When at={ins.last_inbound_at} /> · last outbound: <When at={ins.last_outbound_at} /> · first: <When at={ins.first_at} /> · threads:{' '}
      {ins.threads}
    </p>
    <p class="small">
      Last 90 days: {ins.counts.inbound_90d} in, {ins.counts.outbound_90d} out · last 365 days: {ins.counts.inbound_365d} in, {ins.counts.outbound_365d} out
    </p>
    {ins.partners.length === 0 ? (
      <p class="muted">No one on the team has corresponded with them yet.</p>
    ) : (
      <div class="table-wrap">
        <table>
          <caption class="small muted">
            Who on the team knows them{ins.strongest_partner ? ` (strongest: ${ins.strongest_partner.email})` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">Partner</th>
              <th scope="col">From them</th>
              <th scope="col">To them</th>
              <th scope="col">Last touch</th>
              <th scope="col">Median reply</th>
            </tr>
          </thead>
          <tbody>
            {ins.partners.map((p) => (
              <tr>
                <td>{p.user_id ? <a href={`/partners/${p.user_id}`}>{p.email}</a> : p.email}</td>
                <td>{p.inbound}</td>
                <td>{p.outbound}</td>
                <td>
                  <When at={p.last_at} />
                </td>
                <td>{hours(p.median_reply_hours)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    )}
  </section>
);

export function registerInsightPages(app: App, deps: Deps): void {
  getPage(app, deps, '/going-cold', 'user', async ({ c, session, call }: Ctx) => {
    // A bad value is said so, naming the field, and kept in the box; never silently replaced.
    const typed = (c.req.query('days') ?? '60').slice(0, 40);
    const raw = typed.trim() === '' ? NaN : Number(typed);
    const valid = Number.isInteger(raw) && raw >= 1 && raw <= 3650;
    const out = valid ? await call(listGoingCold, { days: raw }) : null;
    const err = valid ? undefined : `days: “${typed}” is not a whole number of days from 1 to 3650.`;
    return render(
      c,
      <Layout title="Going cold" session={session} path="/going-cold" flash={flashOf(deps, c)}>
        <h1>Going cold</h1>
        <form method="get" action="/going-cold" class="row">
          <label>
            No two-way exchange for (days)
            {/* A text box, so a refused value stays visible as typed (a number box would blank it). */}
            <input name="days" inputmode="numeric" maxlength={40} value={typed} aria-invalid={valid ? undefined : 'true'} aria-describedby={valid ? undefined : 'days-err'} />
          </label>
          <button type="submit">Show</button>
        </form>
        {err && (
          <p class="banner err" role="alert" id="days-err">
            {err}
          </p>
        )}
        <p class="small muted">Investors that were active (at least three two-way exchanges in the year before) and have gone quiet, the most recently lost first.</p>
        {!out ? null : out.investors.length === 0 ? (
          <p class="muted">Nobody is going cold.</p>
        ) : (
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">Investor</th>
                  <th scope="col">Last two-way exchange</th>
                  <th scope="col">Best placed to reach out</th>
                </tr>
              </thead>
              <tbody>
                {out.investors.map((i) => (
                  <tr>
                    <td>
                      <a href={`/investors/${i.id}`}>{i.name}</a>
                    </td>
                    <td>
                      <When at={i.last_two_way_at} />
                    </td>
                    <td>{i.best_partner ? i.best_partner.user_id ? <a href={`/partners/${i.best_partner.user_id}`}>{i.best_partner.email}</a> : i.best_partner.email : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
      valid ? 200 : 400,
    );
  });

  getPage(app, deps, '/partners/:id', 'user', async ({ c, session, call }: Ctx) => {
    const out = await call(getPartnerInsights, { user_id: idOf(c) });
    return render(
      c,
      <Layout title={out.email ?? 'Partner'} session={session} flash={flashOf(deps, c)}>
        <h1>Whom {out.email} knows best</h1>
        {out.investors.length === 0 ? (
          <p class="muted">No correspondence with investors captured for this partner yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="stack">
              <thead>
                <tr>
                  <th scope="col">Investor</th>
                  <th scope="col">Score</th>
                  <th scope="col">From them</th>
                  <th scope="col">To them</th>
                  <th scope="col">Last touch</th>
                </tr>
              </thead>
              <tbody>
                {out.investors.map((i) => (
                  <tr>
                    <td>
                      <a href={`/investors/${i.id}`}>{i.name}</a>
                    </td>
                    <td>{i.score}</td>
                    <td>{i.inbound}</td>
                    <td>{i.outbound}</td>
                    <td>
                      <When at={i.last_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Layout>,
    );
  });
}
