// Removes the key: the server restarts with Gmail capture off. Captured mail stays in the database.
import { storeJson } from '../fileModels/store.json.js';
import { removeKeyFile } from '../keyFile.js';
import { sdk } from '../sdk.js';

export const removeServiceAccountKey = sdk.Action.withoutInput(
  'remove-service-account-key',
  async ({ effects }) => {
    const installed = await storeJson.read((s) => s.key?.clientEmail ?? null).const(effects);
    return {
      name: 'Remove service-account key',
      description: installed
        ? `Delete the installed key (${installed}) from this server. Gmail capture stops; mail already captured stays.`
        : 'Delete the installed service-account key from this server.',
      warning: 'Gmail capture stops until a key is installed again. Mail already captured stays in the database.',
      allowedStatuses: 'any',
      group: 'Gmail',
      visibility: installed ? 'enabled' : { disabled: 'No service-account key is installed.' },
    };
  },
  async ({ effects }) => {
    const removed = await removeKeyFile(sdk.volumes.main.path);
    await storeJson.merge(effects, { key: null });
    return {
      version: '1',
      title: removed ? 'Key removed' : 'No key to remove',
      message: removed
        ? 'The service-account key is deleted. The service restarts with Gmail capture off; captured mail stays.'
        : 'There was no key file on the server; Gmail capture is off.',
      result: null,
    };
  },
);
