import { actions } from '../actions/index.js';
import { restoreInit } from '../backups.js';
import { setDependencies } from '../dependencies.js';
import { versionGraph } from '../install/versions/index.js';
import { setInterfaces } from '../interfaces.js';
import { sdk } from '../sdk.js';
import { seedStore } from './seedStore.js';

// restoreInit and versionGraph come first: a restore or migration must finish before anything reads the volume.
export const init = sdk.setupInit(restoreInit, versionGraph, setInterfaces, setDependencies, actions, seedStore);

export const uninit = sdk.setupUninit(versionGraph);
