// A local Gmail API emulator for tests and the demo: Google's token endpoint and consent screen,
// the Gmail v1 read API, quota, faults and a control API. See docs/emulator.md.
export { startEmulator, type Emulator } from './server.js';
export { EmulatorControl, type Hold, type MailboxInfo, type MessageInfo } from './control.js';
export { ControlClient } from './client.js';
export {
  SCOPE_READONLY,
  SCOPE_METADATA,
  UNAUTHORIZED_CLIENT_DESCRIPTION,
  type ServiceAccountKey,
  type RegisteredPublicKey,
  type RegisterServiceAccountOptions,
  type OAuthClientInfo,
  type ConsentDecision,
} from './auth.js';
export { COST_TABLES, type Stats, type MailboxStats } from './quota.js';
export type { FailNextSpec, FaultKind, FaultTarget } from './faults.js';
export type { EmulatorOptions, QuotaOptions, FaultOptions, FaultSpec, GmailMethod, QuotaModel, Clock } from './options.js';
export { GMAIL_METHODS } from './options.js';
export { SYSTEM_LABELS, type DeliverOptions, type DeliveredCopy, type MailboxFlags, type UserLabel } from './store.js';
export { createRng, type Rng } from './rng.js';
