import { setupManifest } from '@start9labs/start-sdk';

// Injected by scripts/build.mjs (from CRM_REPOSITORY_URL or the git remote): the package is built
// from the application's own repository, which is also its "upstream".
const REPOSITORY_URL = process.env.CRM_REPOSITORY_URL ?? '';

export const manifest = setupManifest({
  id: 'crm-gmail',
  title: 'CRM Gmail',
  license: 'UNLICENSED',
  packageRepo: REPOSITORY_URL,
  upstreamRepo: REPOSITORY_URL,
  marketingUrl: REPOSITORY_URL,
  donationUrl: null,
  description: {
    short: "Read-only capture of the firm's Gmail into its own CRM database",
    long:
      "Captures the firm's Google Workspace mail, read-only, into a database on this server: deduplicated across mailboxes, " +
      'threaded, and matched to investors and contacts. Mail that concerns no investor is kept as metadata only. ' +
      'Mail goes from Google to this server and nowhere else; nothing is ever sent or changed in Gmail.',
  },
  volumes: ['main'],
  images: {
    // Built from the repository root (the parent of this package) with start9/Dockerfile.
    main: {
      source: { dockerBuild: { workdir: '..', dockerfile: 'Dockerfile' } },
      arch: ['x86_64', 'aarch64'],
    },
  },
  dependencies: {},
});
