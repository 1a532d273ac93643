// The live SQLite files are not copied: a file copy of a database being written can be torn.
// Before the volume is copied, scripts/backup-db.mjs takes a consistent snapshot with
// VACUUM INTO (backup/crm.db, which is copied); after a restore it puts the snapshot back as
// crm.db. Attachments and secrets are copied as files.
import { sdk } from './sdk.js';
import { APP_DIR, APP_USER, DATA_DIR } from './utils.js';

const LIVE_DB_FILES = ['/crm.db', '/crm.db-wal', '/crm.db-shm', '/crm.db-journal'];

async function runBackupDb(effects: Parameters<typeof sdk.SubContainer.withTemp>[0], command: 'snapshot' | 'restore' | 'clean'): Promise<void> {
  await sdk.SubContainer.withTemp(
    effects,
    { imageId: 'main' },
    sdk.Mounts.of().mountVolume({ volumeId: 'main', subpath: null, mountpoint: DATA_DIR, readonly: false }),
    `db-${command}`,
    async (sub) => {
      await sub.execFail(['node', `${APP_DIR}/start9/scripts/backup-db.mjs`, command], {
        // The snapshot may be taken while the server runs, so it opens the database as the server's
        // user (never leaving root-owned -wal/-shm files behind); a restore runs with no server and
        // as root, whatever the restored directory's ownership (main.ts chowns the volume at start).
        user: command === 'restore' ? 'root' : APP_USER,
        cwd: APP_DIR,
        env: { CRM_DATA_DIR: DATA_DIR },
      });
    },
  );
}

export const { createBackup, restoreInit } = sdk.setupBackups(async () =>
  sdk.Backups.ofVolumes('main')
    .setOptions({ exclude: LIVE_DB_FILES })
    .setPreBackup(async (effects) => runBackupDb(effects, 'snapshot'))
    .setPostBackup(async (effects) => runBackupDb(effects, 'clean'))
    .setPostRestore(async (effects) => runBackupDb(effects, 'restore')),
);
