/** Which build is running: BUILD_VERSION when the deployment sets it, else the package's version. */
import { readFileSync } from 'node:fs';

let packageVersion: string | undefined;

export function buildVersion(configured: string | undefined): string {
  if (configured) return configured;
  if (packageVersion === undefined) {
    try {
      // dist/src/observe/ → the repository's (or image's) package.json
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
      packageVersion = pkg.version ?? 'unknown';
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}
