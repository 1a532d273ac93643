import { sdk } from './sdk.js';

// crm-gmail depends on no other service.
export const setDependencies = sdk.setupDependencies(async () => ({}));
