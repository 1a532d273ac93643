// What StartOS loads from the bundle (javascript/index.js): the package ABI.
import { buildManifest } from '@start9labs/start-sdk';
import { manifest as sdkManifest } from './manifest/index.js';
import { versionGraph } from './install/versions/index.js';

export { actions } from './actions/index.js';
export { createBackup } from './backups.js';
export { init, uninit } from './init/index.js';
export { main } from './main.js';

export const manifest = buildManifest(versionGraph, sdkManifest);
export { setInterfaces } from './interfaces.js';
