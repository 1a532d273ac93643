// Gmail's quota model for the firm's Cloud project: passed to the server as CRM_GMAIL_QUOTA_COSTS,
// and the rate, when given, as CRM_GMAIL_RATE_UNITS_SEC. Projects created since 2026-05-01 pay
// four times as much per message and are capped lower; counting them as legacy makes every
// mailbox run into Gmail's rate limits until the server has learned the lower pace by itself.
import { storeJson } from '../fileModels/store.json.js';
import { describeGmailQuota, parseGmailQuota, RATE_MAX, RATE_MAX_2026, RATE_MIN } from '../quotaModel.js';
import { sdk } from '../sdk.js';

const { InputSpec, Value } = sdk;

export const quotaInputSpec = InputSpec.of({
  model: Value.select({
    name: 'Quota model',
    description:
      'Which of Gmail\'s quota models the Google Cloud project holding the service account is on. ' +
      'Projects created before 2026-05-01 are legacy; projects created on or after that day are 2026. ' +
      'The creation date is on the project\'s dashboard in the Google Cloud console.',
    default: 'legacy',
    values: {
      legacy: 'Legacy: project created before 2026-05-01 (messages.get 5 units, default 150 units/s)',
      '2026': '2026: project created on or after 2026-05-01 (messages.get 20 units, at most 100 units/s)',
    },
  }),
  rate: Value.number({
    name: 'Rate (optional)',
    description:
      'Gmail quota units each mailbox may spend per second, never exceeded. Leave empty for the model\'s default ' +
      `(150 legacy, 100 under 2026). A whole number from ${RATE_MIN} to ${RATE_MAX}, at most ${RATE_MAX_2026} under 2026; ` +
      'lower it to leave room for other tools that use the same Cloud project.',
    required: false,
    default: null,
    integer: true,
    min: RATE_MIN,
    max: RATE_MAX,
    units: 'units/s',
    placeholder: 'model default',
  }),
});

export const setGmailQuotaModel = sdk.Action.withInput(
  'set-gmail-quota-model',
  async ({ effects }) => {
    const quota = await storeJson.read((s) => s.gmailQuota).const(effects);
    return {
      name: 'Set Gmail quota model',
      description: `Match Gmail's quota model to the Cloud project's creation date (before or since 2026-05-01). Now: ${describeGmailQuota(quota ?? null)}.`,
      warning: null,
      allowedStatuses: 'any',
      group: 'Gmail',
      visibility: 'enabled',
    };
  },
  quotaInputSpec,
  async () => {
    const quota = await storeJson.read((s) => s.gmailQuota).once();
    return quota ? { model: quota.model, rate: quota.rateUnitsSec } : null;
  },
  async ({ effects, input }) => {
    const quota = parseGmailQuota(input);
    await storeJson.merge(effects, { gmailQuota: quota });
    return {
      version: '1',
      title: 'Gmail quota model set',
      message: `Gmail is now paced by ${describeGmailQuota(quota)}. The service restarts with it.`,
      result: null,
    };
  },
);
