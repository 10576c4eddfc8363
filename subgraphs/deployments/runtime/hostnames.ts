/**
 * How the edge names what it serves: every deployment answers at its own host
 * (`dpl-01jabc….<baseDomain>`), every project at its label (`shop.<baseDomain>`).
 * Pure functions, shared by whoever writes URLs (the pipeline, the API) and the edge router
 * that reads them back from a Host header.
 */

/** `dpl_` and 26 characters of Crockford base32, as `newId('dpl')` makes them. */
const DEPLOYMENT_ID = /^dpl_[0-9A-HJKMNP-TV-Z]{26}$/;
const DEPLOYMENT_LABEL = /^dpl-[0-9a-hjkmnp-tv-z]{26}$/;

/** RFC 1123 label, lowercase only: a label we store must compare equal to what a Host header lowercases to. */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDeploymentId(value: string): boolean {
  return DEPLOYMENT_ID.test(value);
}

/**
 * Host labels are case-insensitive and may not hold `_`, so the ID is lowercased and its
 * underscore becomes a hyphen; Crockford base32 has no hyphen, so the mapping reverses exactly.
 */
export function deploymentLabel(deploymentId: string): string {
  if (!isDeploymentId(deploymentId)) throw new RangeError(`Not a deployment ID: ${deploymentId}`);
  return deploymentId.toLowerCase().replace('_', '-');
}

/** The deployment a host label names, or null when the label is not a deployment's (a project's, say). */
export function deploymentIdFromLabel(label: string): string | null {
  const lower = label.toLowerCase();
  if (!DEPLOYMENT_LABEL.test(lower)) return null;
  return `dpl_${lower.slice('dpl-'.length).toUpperCase()}`;
}

/**
 * Whether `label` is a DNS label a project may use: 1–63 lowercase letters, digits and
 * hyphens, not starting or ending with a hyphen. Labels shaped like a deployment's are valid
 * here; reserving them is the caller's business.
 */
export function isHostLabel(label: string): boolean {
  return HOST_LABEL.test(label);
}

export interface EdgeAddress {
  scheme: 'http' | 'https';
  /** The domain every label hangs under, e.g. `localhost` or `apps.example.com`. */
  baseDomain: string;
  /** The edge's public port; omitted from the URL when it is the scheme's default (or absent). */
  port?: number | null;
}

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** The public base URL of a label, e.g. `http://dpl-01jabc….localhost:4080` (no trailing slash). */
export function edgeUrl(label: string, { scheme, baseDomain, port }: EdgeAddress): string {
  if (!isHostLabel(label)) throw new RangeError(`Not a host label: ${label}`);
  const suffix = port == null || port === DEFAULT_PORTS[scheme] ? '' : `:${port}`;
  return `${scheme}://${label}.${normalizeBaseDomain(baseDomain)}${suffix}`;
}

/** `Localhost.` and `.localhost` name the same domain as `localhost`. */
export function normalizeBaseDomain(baseDomain: string): string {
  return baseDomain.trim().toLowerCase().replace(/^\.+/, '').replace(/\.+$/, '');
}

/**
 * The host a Host header names: lowercased, without its port or the trailing dot of a fully
 * qualified name. IPv6 literals keep their brackets (they never carry a label); null when
 * there is no usable header.
 */
export function hostFromHeader(header: string | undefined): string | null {
  if (!header) return null;
  let host = header.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return null;
    host = host.slice(0, end + 1);
  } else {
    host = host.replace(/:\d*$/, '');
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' ? null : host;
}

/**
 * The label of a host that is exactly `<label>.<baseDomain>`; null for the bare base domain,
 * deeper subdomains, other domains and IP addresses.
 */
export function labelFromHost(host: string, baseDomain: string): string | null {
  const suffix = `.${normalizeBaseDomain(baseDomain)}`;
  if (suffix === '.' || !host.endsWith(suffix)) return null;
  const label = host.slice(0, -suffix.length);
  return isHostLabel(label) ? label : null;
}
