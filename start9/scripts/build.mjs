// Bundles startos/index.ts into javascript/index.js, the one CommonJS file StartOS loads (it
// `require`s the package code), with the SDK inlined.
//
//   node scripts/build.mjs [--outfile <file>]
//
// The manifest's repository links come from CRM_REPOSITORY_URL, else from the git remote `origin`.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `git@host:owner/repo.git` or `https://host/owner/repo(.git)` → `https://host/owner/repo`. */
export function httpsRepositoryUrl(remote) {
  const trimmed = remote.trim();
  const scp = /^[\w.-]+@([\w.-]+):(.+?)(?:\.git)?$/.exec(trimmed);
  const candidate = scp ? `https://${scp[1]}/${scp[2]}` : trimmed.replace(/\.git$/, '');
  let url;
  try {
    url = new URL(candidate);
  } catch {
    throw new Error(`repository URL "${trimmed}" is not a URL; set CRM_REPOSITORY_URL=https://…`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`repository URL "${trimmed}" must be http(s); set CRM_REPOSITORY_URL=https://…`);
  }
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/$/, '');
}

export function repositoryUrl(env = process.env) {
  if (env.CRM_REPOSITORY_URL) return httpsRepositoryUrl(env.CRM_REPOSITORY_URL);
  let remote;
  try {
    remote = execFileSync('git', ['remote', 'get-url', 'origin'], { cwd: packageDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    throw new Error('cannot tell where this repository lives: no git remote "origin"; set CRM_REPOSITORY_URL=https://…');
  }
  return httpsRepositoryUrl(remote);
}

export async function bundle({ outfile = path.join(packageDir, 'javascript', 'index.js'), env = process.env } = {}) {
  await build({
    entryPoints: [path.join(packageDir, 'startos', 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    tsconfig: path.join(packageDir, 'tsconfig.json'),
    define: { 'process.env.CRM_REPOSITORY_URL': JSON.stringify(repositoryUrl(env)) },
    logLevel: 'warning',
    legalComments: 'none',
  });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const i = process.argv.indexOf('--outfile');
  const outfile = i > 0 ? path.resolve(process.argv[i + 1] ?? '') : undefined;
  try {
    const written = await bundle(outfile ? { outfile } : {});
    console.log(`bundled ${path.relative(process.cwd(), written)}`);
  } catch (err) {
    console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
