import { VersionInfo } from '@start9labs/start-sdk';

export const v0_1_0_0 = VersionInfo.of({
  version: '0.1.0:0',
  releaseNotes: 'First StartOS package of crm-gmail: the API on port 8080, Gmail capture enabled by pasting a service-account key.',
  migrations: {},
});
