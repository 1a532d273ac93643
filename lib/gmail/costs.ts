// Gmail's per-method quota costs. Two models are live at once: projects created before
// 2026-05-01 pay the legacy prices, newer ones pay more for message and thread reads.
import type { QuotaModel } from '../core/config.js';
import type { GmailMethod } from './types.js';

export type CostTable = Readonly<Record<GmailMethod, number>>;

export const QUOTA_COSTS: Readonly<Record<QuotaModel, CostTable>> = {
  legacy: {
    getProfile: 1,
    'labels.list': 1,
    'history.list': 2,
    'messages.list': 5,
    'threads.list': 10,
    'messages.get': 5,
    'messages.attachments.get': 5,
    'threads.get': 10,
  },
  '2026': {
    getProfile: 1,
    'labels.list': 1,
    'history.list': 2,
    'messages.list': 5,
    'threads.list': 10,
    'messages.get': 20,
    'messages.attachments.get': 20,
    'threads.get': 40,
  },
};

export function costTable(model: QuotaModel): CostTable {
  const table = QUOTA_COSTS[model];
  if (!table) throw new Error(`unknown Gmail quota cost model "${String(model)}" (expected legacy or 2026)`);
  return table;
}
