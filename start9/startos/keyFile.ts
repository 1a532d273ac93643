// Writing and removing the service-account key on the data volume. Plain node:fs so it is
// unit-tested outside StartOS; the actions call it with the volume's path as seen by the package.
import { chmod, chown, mkdir, open, rename, rm, lstat } from 'node:fs/promises';
import path from 'node:path';

/** Relative to the data directory; docker_entrypoint.sh looks for the key here. */
export const KEY_SUBPATH = 'secrets/gmail-service-account.json';

export interface Owner {
  uid: number;
  gid: number;
}

export function keyPath(dataDir: string): string {
  return path.join(dataDir, KEY_SUBPATH);
}

/**
 * Writes the key with mode 0600 inside a 0700 secrets directory, owned by `owner` when given (the
 * server's user, which must be able to read it). The file appears whole or not at all: it is
 * written under a temporary name, then renamed over any previous key.
 */
export async function writeKeyFile(dataDir: string, json: string, owner: Owner | null): Promise<string> {
  const file = keyPath(dataDir);
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (owner) await chown(dir, owner.uid, owner.gid);

  const tmp = `${file}.${process.pid}.tmp`;
  // 'wx' with mode 0600: the secret never exists on disk with looser permissions.
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(json, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(tmp, 0o600);
    if (owner) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return file;
}

/** Removes the key; answers whether there was one. */
export async function removeKeyFile(dataDir: string): Promise<boolean> {
  const file = keyPath(dataDir);
  try {
    await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await rm(file, { recursive: true, force: true });
  return true;
}
