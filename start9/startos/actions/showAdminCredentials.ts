// The first admin's credentials, generated at install and created by the server at its first start.
import { storeJson } from '../fileModels/store.json.js';
import { sdk } from '../sdk.js';
import { ADMIN_USERNAME } from '../utils.js';

export const showAdminCredentials = sdk.Action.withoutInput(
  'show-admin-credentials',
  async () => ({
    name: 'Show admin credentials',
    description: 'The username and initial password of the first admin, for POST /api/auth/login.',
    warning: null,
    allowedStatuses: 'any',
    group: null,
    visibility: 'enabled',
  }),
  async () => {
    const password = await storeJson.read((s) => s.adminPassword).once();
    if (!password) throw new Error('No admin password has been generated yet: restart the service and try again.');
    return {
      version: '1',
      title: 'Admin credentials',
      message: 'The initial password: once changed through POST /api/auth/password, the new one applies and this one no longer works.',
      result: {
        type: 'group',
        value: [
          { type: 'single', name: 'Username', description: null, value: ADMIN_USERNAME, copyable: true, qr: false, masked: false },
          { type: 'single', name: 'Password', description: null, value: password, copyable: true, qr: false, masked: true },
        ],
      },
    };
  },
);
