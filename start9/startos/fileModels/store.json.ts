// The package's own state on the data volume (the server never reads it): the workspace domain,
// the Gmail quota model, the generated first-admin password, and which key is installed. main.ts
// reads it reactively, so changing any of it restarts the server with the new environment.
import { FileHelper, z } from '@start9labs/start-sdk';
import { sdk } from '../sdk.js';

const installedKey = z.object({
  clientEmail: z.string(),
  privateKeyId: z.string().nullable(),
  installedAt: z.string(),
});

// The 2026 model's lower cap on the rate is checked by parseGmailQuota before the action saves
// it. null (nothing saved yet) means the server's legacy defaults.
const gmailQuota = z.object({
  model: z.enum(['legacy', '2026']),
  rateUnitsSec: z.number().int().min(1).max(250).nullable(),
});

const shape = z.object({
  workspaceDomain: z.string().nullable().catch(null),
  gmailQuota: gmailQuota.nullable().catch(null),
  adminPassword: z.string().nullable().catch(null),
  key: installedKey.nullable().catch(null),
});

export type Store = z.infer<typeof shape>;
export type InstalledKey = z.infer<typeof installedKey>;

export const storeJson = FileHelper.json({ base: sdk.volumes.main, subpath: 'startos/store.json' }, shape);
