import { sdk } from './sdk.js';
import { API_PORT } from './utils.js';

export const setInterfaces = sdk.setupInterfaces(async ({ effects }) => {
  const host = sdk.MultiHost.of(effects, 'api');
  const origin = await host.bindPort(API_PORT, { protocol: 'http' });
  const api = sdk.createInterface(effects, {
    name: 'API',
    id: 'api',
    description: 'The CRM HTTP API (JSON). Log in with POST /api/auth/login using the admin credentials from the actions.',
    type: 'api',
    masked: false,
    schemeOverride: null,
    username: null,
    path: '',
    query: {},
  });
  return [await origin.export([api])];
});
