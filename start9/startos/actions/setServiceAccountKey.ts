// Installs the Google service-account key (domain-wide delegation). File inputs do not work in
// StartOS 0.4 actions, so the key file's contents are pasted into a masked field.
import { storeJson } from '../fileModels/store.json.js';
import { writeKeyFile } from '../keyFile.js';
import { sdk } from '../sdk.js';
import { parseServiceAccountKey } from '../serviceAccountKey.js';
import { APP_OWNER } from '../utils.js';

const { InputSpec, Value } = sdk;

export const keyInputSpec = InputSpec.of({
  key: Value.text({
    name: 'Service-account key (JSON)',
    description:
      'Open the JSON key file Google gave you for the service account, copy all of it and paste it here. ' +
      'It is checked (a service_account key with client_email and private_key) and stored readable only by the server.',
    required: true,
    default: null,
    masked: true,
    placeholder: '{"type": "service_account", "client_email": "…", "private_key": "…"}',
    maxLength: 65536,
  }),
});

export const setServiceAccountKey = sdk.Action.withInput(
  'set-service-account-key',
  async () => ({
    name: 'Install service-account key',
    description: 'Paste the Google service-account JSON key that reads the firm\'s mailboxes (domain-wide delegation). Replaces any key installed before.',
    warning: null,
    allowedStatuses: 'any',
    group: 'Gmail',
    visibility: 'enabled',
  }),
  keyInputSpec,
  // The installed key is never shown again, not even as a prefill.
  async () => null,
  async ({ effects, input }) => {
    const key = parseServiceAccountKey(input.key);
    await writeKeyFile(sdk.volumes.main.path, key.json, APP_OWNER);
    await storeJson.merge(effects, {
      key: { clientEmail: key.clientEmail, privateKeyId: key.privateKeyId, installedAt: new Date().toISOString() },
    });
    const domain = await storeJson.read((s) => s.workspaceDomain).once();
    return {
      version: '1',
      title: 'Key installed',
      message: domain
        ? `The key for ${key.clientEmail} is installed. The service restarts with Gmail capture enabled for ${domain}.`
        : `The key for ${key.clientEmail} is installed. Gmail capture starts once the workspace domain is set (action "Set workspace domain").`,
      result: null,
    };
  },
);
