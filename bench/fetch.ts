// Stage "fetch": the same corpus backfilled twice, message by message and by the fetch planner,
// with the emulator enforcing quota and latency, so the strategies are compared side by side.
import { runBackfill, type BackfillResult, type BackfillSpec } from './backfill.js';

export interface FetchComparison {
  label: string;
  model: 'legacy' | '2026';
  threads: 'mixed' | 'long' | 'singles';
  perMessage: BackfillResult;
  planner: BackfillResult;
}

export async function runFetchComparison(spec: Omit<BackfillSpec, 'env'> & { threads: 'mixed' | 'long' | 'singles' }): Promise<FetchComparison> {
  const perMessage = await runBackfill({ ...spec, label: `${spec.label}, per message`, env: { CRM_GMAIL_FETCH_STRATEGY: 'per-message' } });
  const planner = await runBackfill({ ...spec, label: `${spec.label}, planner`, env: { CRM_GMAIL_FETCH_STRATEGY: 'planner' } });
  return { label: spec.label, model: spec.model, threads: spec.threads, perMessage, planner };
}
