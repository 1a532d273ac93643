import { checkHealthz } from './healthz.js';
import { storeJson, type Store } from './fileModels/store.json.js';
import { gmailQuotaEnv } from './quotaModel.js';
import { sdk } from './sdk.js';
import { ADMIN_USERNAME, API_PORT, APP_DIR, APP_USER, DATA_DIR } from './utils.js';

/** The server's environment, from the store. Gmail itself is switched on by docker_entrypoint.sh, from the key on disk. */
function serverEnv(store: Pick<Store, 'workspaceDomain' | 'gmailQuota' | 'adminPassword'> | null, osIp: string | null): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    CRM_DATA_DIR: DATA_DIR,
    CRM_HOST: '0.0.0.0',
    CRM_PORT: String(API_PORT),
    CRM_GMAIL_WORKSPACE_DOMAIN: store?.workspaceDomain ?? '',
    ...gmailQuotaEnv(store?.gmailQuota ?? null),
  };
  if (store?.adminPassword) {
    env.CRM_ADMIN_USERNAME = ADMIN_USERNAME;
    env.CRM_ADMIN_PASSWORD = store.adminPassword;
  }
  // Requests arrive through StartOS's proxy, which adds X-Forwarded-For; trusting it keeps login
  // throttling per client rather than one bucket for everyone.
  if (osIp) env.CRM_TRUSTED_PROXIES = osIp;
  return env;
}

export const main = sdk.setupMain(async ({ effects }) => {
  // Reactive: a new domain, quota model, key or password restarts the server with it.
  const store = await storeJson
    .read((s) => ({ workspaceDomain: s.workspaceDomain, gmailQuota: s.gmailQuota, adminPassword: s.adminPassword, key: s.key }))
    .const(effects);
  const osIp = await sdk.getOsIp(effects);

  const app = sdk.SubContainer.of(
    effects,
    { imageId: 'main' },
    sdk.Mounts.of().mountVolume({ volumeId: 'main', subpath: null, mountpoint: DATA_DIR, readonly: false }),
    'crm-gmail',
  );

  return sdk.Daemons.of(effects)
    .addOneshot('data-owner', {
      subcontainer: app,
      // The volume and anything an action wrote into it must belong to the server's user.
      exec: { command: ['chown', '-R', `${APP_USER}:${APP_USER}`, DATA_DIR], user: 'root' },
      requires: [],
    })
    .addDaemon('primary', {
      subcontainer: app,
      exec: {
        command: [`${APP_DIR}/start9/docker_entrypoint.sh`, 'node', '--import', 'tsx', `${APP_DIR}/lib/run/main.ts`],
        cwd: APP_DIR,
        user: APP_USER,
        env: serverEnv(store, osIp),
        // The server finishes in-flight requests and sync pages on SIGTERM.
        sigtermTimeout: 60_000,
      },
      ready: {
        display: 'API',
        fn: () => checkHealthz(`http://127.0.0.1:${API_PORT}/healthz`),
        gracePeriod: 60_000,
      },
      requires: ['data-owner'],
    });
});
