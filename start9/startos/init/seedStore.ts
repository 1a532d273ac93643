// Makes sure the store exists with a first-admin password; on a fresh install, asks the owner for
// the two things Gmail capture needs. Safe on every init: nothing present is overwritten.
import { utils } from '@start9labs/start-sdk';
import { setServiceAccountKey } from '../actions/setServiceAccountKey.js';
import { setWorkspaceDomain } from '../actions/setWorkspaceDomain.js';
import { storeJson } from '../fileModels/store.json.js';
import { sdk } from '../sdk.js';

export const seedStore = sdk.setupOnInit(async (effects, kind) => {
  const store = await storeJson.read().once();
  if (!store?.adminPassword) {
    await storeJson.merge(effects, {
      workspaceDomain: store?.workspaceDomain ?? null,
      key: store?.key ?? null,
      adminPassword: utils.getDefaultString({ charset: 'a-z,A-Z,0-9', len: 24 }),
    });
  }
  if (kind === 'install') {
    await sdk.action.createOwnTask(effects, setWorkspaceDomain, 'important', {
      reason: "Set the firm's Google Workspace domain so Gmail capture can start.",
    });
    await sdk.action.createOwnTask(effects, setServiceAccountKey, 'important', {
      reason: 'Paste the service-account key (domain-wide delegation) so Gmail capture can start.',
    });
  }
});
