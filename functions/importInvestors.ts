// Upserts many investors and contacts at once: a JSON array of
// {name, domains, emails, contacts:[{name, emails}]} or a CSV with a header row naming the
// columns investor, domain, contact_name, contact_email (and optionally investor_email).
// Investors are found by name (any case), contacts by address; an import only adds (a contact
// already at another investor stays there; one at none joins the importing investor). The whole
// import is one transaction: one bad row rejects it all, naming the row and the field. Runs on
// POST /api/investors/import (admin) or from the command line; a second identical run changes
// nothing and answers zero counts.
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { writeTx } from '../lib/db/client.js';
import {
  directoryPolicy,
  externalAddress,
  investorDomain,
  type DirectoryPolicy,
  normaliseList,
  normaliseName,
  RematchSet,
  upsertInvestorRecord,
  type InvestorRecord,
  type Touched,
} from '../lib/directory/directory.js';
import { AppError, validation } from '../lib/core/errors.js';
import { defineFunction } from '../lib/core/fn.js';
import { reviewable, settleChange } from '../lib/directory/review.js';
import { nowIso } from '../lib/core/time.js';

/** A record and how to name it in an error: the row label and what goes before a field. */
interface Item {
  rec: InvestorRecord;
  label: string;
  fieldPrefix: string;
  /** Maps a path inside the record to the name the input used for it. */
  fieldOf: (path: string) => string;
}

/** Re-throw a validation error from inside a row so that it names the row. */
async function atRow<T>(item: Pick<Item, 'label' | 'fieldPrefix'>, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError && err.code === 'VALIDATION') {
      const field = err.field ? `${item.fieldPrefix}${err.field}` : item.fieldPrefix.replace(/[.:]\s*$/, '');
      throw new AppError('VALIDATION', `${item.label}: ${err.message}`, { field });
    }
    throw err;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalList(v: unknown, field: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw validation(field, `${field}: must be a list`);
  return v;
}

function fromJson(list: unknown[], policy: DirectoryPolicy): Promise<Item[]> {
  const address = externalAddress(policy);
  const domain = investorDomain(policy);
  return Promise.all(
    list.map((raw, i) => {
      const where = { label: `row ${i + 1}`, fieldPrefix: `[${i}].` };
      return atRow(where, (): Item => {
        if (!isObject(raw)) throw validation('', 'must be an object {name, domains, emails, contacts}');
        const contacts = (optionalList(raw.contacts, 'contacts') ?? []).map((c, j) => {
          const at = `contacts[${j}]`;
          if (!isObject(c)) throw validation(at, `${at}: must be an object {name, emails}`);
          return {
            name: normaliseName(c.name, `${at}.name`),
            emails: normaliseList(optionalList(c.emails, `${at}.emails`), `${at}.emails`, address),
          };
        });
        return {
          ...where,
          fieldOf: (path) => path,
          rec: {
            name: normaliseName(raw.name, 'name'),
            domains: normaliseList(optionalList(raw.domains, 'domains'), 'domains', domain),
            emails: normaliseList(optionalList(raw.emails, 'emails'), 'emails', address),
            contacts,
          },
        };
      });
    }),
  );
}

const CSV_COLUMNS = ['investor', 'domain', 'contact_name', 'contact_email', 'investor_email'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

function parseCsv(text: string): { cells: string[]; line: number }[] {
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parse(text, { bom: true, info: true, skip_empty_lines: true, relax_column_count: true }) as unknown as typeof parsed;
  } catch (err) {
    throw validation('csv', `the CSV cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  // info.lines is where a record ends; a quoted cell may span lines, so count back to its start.
  return parsed.map(({ record, info }) => ({
    cells: record,
    line: info.lines - record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0),
  }));
}

async function fromCsv(text: string, policy: DirectoryPolicy): Promise<Item[]> {
  const address = externalAddress(policy);
  const domain = investorDomain(policy);
  const [header, ...data] = parseCsv(text);
  const expected = `investor,domain,contact_name,contact_email (optionally investor_email)`;
  if (!header) throw validation('csv', `the CSV is empty; its first line must be the header ${expected}`);
  const index = new Map<CsvColumn, number>();
  for (const [i, raw] of header.cells.entries()) {
    const name = raw.trim().toLowerCase();
    if (!(CSV_COLUMNS as readonly string[]).includes(name)) {
      throw validation('header', `line ${header.line}: unknown column ${JSON.stringify(raw)}; the columns are ${expected}`);
    }
    if (index.has(name as CsvColumn)) throw validation('header', `line ${header.line}: column ${name} appears twice`);
    index.set(name as CsvColumn, i);
  }
  if (!index.has('investor')) throw validation('header', `line ${header.line}: no investor column; the columns are ${expected}`);

  return Promise.all(
    data.map(({ cells, line }, i) => {
      const where = { label: `row ${i + 1} (line ${line})`, fieldPrefix: `row ${i + 1}: ` };
      return atRow(where, (): Item => {
        if (cells.length > header.cells.length) {
          throw validation('', `has ${cells.length} cells but the header names ${header.cells.length} columns`);
        }
        const cell = (c: CsvColumn) => {
          const at = index.get(c);
          return at === undefined ? '' : (cells[at] ?? '').trim();
        };
        if (!cell('investor')) throw validation('investor', 'investor: is empty; every row names the investor it adds to');
        const contactName = cell('contact_name');
        const contactEmail = cell('contact_email');
        return {
          ...where,
          fieldOf: () => 'contact_email',
          rec: {
            name: normaliseName(cell('investor'), 'investor'),
            domains: cell('domain') ? [domain(cell('domain'), 'domain')] : [],
            emails: cell('investor_email') ? [address(cell('investor_email'), 'investor_email')] : [],
            contacts:
              contactName || contactEmail
                ? [
                    {
                      name: contactName ? normaliseName(contactName, 'contact_name') : undefined,
                      emails: contactEmail ? [address(contactEmail, 'contact_email')] : [],
                    },
                  ]
                : [],
          },
        };
      });
    }),
  );
}

export const importInvestors = defineFunction({
  name: 'importInvestors',
  input: z.union([z.array(z.unknown()), z.object({ csv: z.string() })], {
    message: 'give a JSON array of investors [{name, domains, emails, contacts}] or a CSV (Content-Type: text/csv)',
  }),
  async run(deps, input, ctx) {
    // Every row is checked before anything is written; the database then sees one transaction.
    const items = Array.isArray(input) ? await fromJson(input, directoryPolicy(deps.config)) : await fromCsv(input.csv, directoryPolicy(deps.config));
    const now = nowIso(deps.clock);
    const touched: Touched = { investors: new Set(), contacts: new Set() };
    const out = await reviewable(deps, ctx, { fn: 'importInvestors', input, summary: `import of ${items.length} rows` }, () =>
      writeTx(deps.db, async (tx) => {
        const rq = new RematchSet();
        for (const item of items) {
          await atRow(item, () => upsertInvestorRecord(tx, item.rec, { now, rq, touched, fieldOf: item.fieldOf }));
        }
        await settleChange(deps, ctx, tx, rq, {
          action: 'directory.import',
          target: null,
          after: {
            rows: items.length,
            investors: [...touched.investors],
            contacts: [...touched.contacts],
            addresses: [...rq.addresses].slice(0, 1000),
            domains: [...rq.domains].slice(0, 1000),
          },
        });
        return null;
      }),
    );
    if (out) return out;
    const counts = { investors: touched.investors.size, contacts: touched.contacts.size };
    deps.log.info({ event: 'directory.imported', rows: items.length, ...counts, by: ctx.actor?.id }, 'directory imported');
    return counts;
  },
});
