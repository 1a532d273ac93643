import { sdk } from '../sdk.js';
import { removeServiceAccountKey } from './removeServiceAccountKey.js';
import { setGmailQuotaModel } from './setGmailQuotaModel.js';
import { setServiceAccountKey } from './setServiceAccountKey.js';
import { setWorkspaceDomain } from './setWorkspaceDomain.js';
import { showAdminCredentials } from './showAdminCredentials.js';

export const actions = sdk.Actions.of()
  .addAction(setServiceAccountKey)
  .addAction(setWorkspaceDomain)
  .addAction(setGmailQuotaModel)
  .addAction(removeServiceAccountKey)
  .addAction(showAdminCredentials);
