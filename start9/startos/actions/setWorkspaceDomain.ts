// The firm's Google Workspace domain(s): passed to the server as CRM_GMAIL_WORKSPACE_DOMAIN.
import { storeJson } from '../fileModels/store.json.js';
import { sdk } from '../sdk.js';
import { parseWorkspaceDomains } from '../workspaceDomain.js';

const { InputSpec, Value } = sdk;

export const domainInputSpec = InputSpec.of({
  domain: Value.text({
    name: 'Workspace domain',
    description:
      'The firm\'s Google Workspace domain, e.g. fund.com; several may be given, comma-separated. ' +
      'Addresses in it count as internal, and only its mailboxes can be enrolled.',
    required: true,
    default: null,
    placeholder: 'fund.com',
    maxLength: 1024,
  }),
});

export const setWorkspaceDomain = sdk.Action.withInput(
  'set-workspace-domain',
  async () => ({
    name: 'Set workspace domain',
    description: 'Set the firm\'s Google Workspace domain(s). Gmail capture needs it as well as the service-account key.',
    warning: null,
    allowedStatuses: 'any',
    group: 'Gmail',
    visibility: 'enabled',
  }),
  domainInputSpec,
  async () => {
    const domain = await storeJson.read((s) => s.workspaceDomain).once();
    return domain ? { domain } : null;
  },
  async ({ effects, input }) => {
    const domain = parseWorkspaceDomains(input.domain);
    await storeJson.merge(effects, { workspaceDomain: domain });
    const key = await storeJson.read((s) => s.key).once();
    return {
      version: '1',
      title: 'Workspace domain set',
      message: key
        ? `The workspace domain is ${domain}. The service restarts with Gmail capture enabled.`
        : `The workspace domain is ${domain}. Gmail capture starts once a service-account key is installed (action "Install service-account key").`,
      result: null,
    };
  },
);
