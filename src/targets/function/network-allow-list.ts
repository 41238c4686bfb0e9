/**
 * The hosts a sandboxed script may reach (`grants.allowNetwork.hosts`): each entry parsed once at
 * start, then every URL the script fetches checked against them. An entry is an exact host name or
 * IP address (`api.example.com`, `127.0.0.1`, `[::1]`), optionally with a port (`api.example.com:8443`:
 * that port only; without one, any port), or a wildcard `*.example.com` (any name ending in
 * `.example.com`, at any depth, but not `example.com` itself). Only `http:` and `https:` URLs pass.
 * This module loads nothing, so the configuration layer checks entries with it.
 */

/** One parsed entry of the allow-list. */
export interface HostPattern {
  /** The entry as written, for messages. */
  readonly text: string;
  /** Lower-case host name or address as a URL shows it (`[::1]` for IPv6); for a wildcard, the suffix after `*.`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** Undefined: any port. */
  readonly port: number | undefined;
}

/** `host`, `[v6]` or `*.suffix`, then an optional `:port`. */
const ENTRY = /^(\*\.)?(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/;

/**
 * The entry parsed, or a sentence saying what is wrong with it.
 *
 * @example
 * parseHostPattern('*.example.com:443'); // { text: '*.example.com:443', host: 'example.com', wildcard: true, port: 443 }
 * parseHostPattern('https://example.com'); // 'is "https://example.com", which has a scheme or path; …'
 */
export function parseHostPattern(entry: string): HostPattern | string {
  const shown = JSON.stringify(entry);
  if (/[/?#@\s\\]/.test(entry)) return `is ${shown}, which has a scheme, path or user; expected a host name, host:port or *.domain`;
  const match = ENTRY.exec(entry);
  if (match === null) return `is ${shown}; expected a host name, host:port or *.domain (a wildcard only as the first label)`;
  const [, star, rawHost, rawPort] = match as unknown as [string, string | undefined, string, string | undefined];
  if (rawHost.includes('*')) return `is ${shown}; expected a wildcard only as a whole first label, as in *.example.com`;
  let host: string;
  try {
    host = new URL(`http://${rawHost}`).hostname;
  } catch {
    return `is ${shown}, which is not a valid host name; expected a host name, host:port or *.domain`;
  }
  if (star !== undefined && (host.startsWith('[') || !host.includes('.') || /^[\d.]+$/.test(host))) {
    return `is ${shown}; expected a wildcard before a domain of at least two labels, as in *.example.com`;
  }
  const port = rawPort === undefined ? undefined : Number(rawPort);
  if (port !== undefined && (port < 1 || port > 65_535)) return `is ${shown}, whose port is out of range; expected 1 to 65535`;
  return { text: entry, host, wildcard: star !== undefined, port };
}

/** The port a URL reaches: its own, else its scheme's default. */
function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Whether `url` (http or https) reaches a host the patterns allow. */
export function hostAllowed(patterns: readonly HostPattern[], url: URL): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.hostname;
  const port = portOf(url);
  for (const pattern of patterns) {
    if (pattern.port !== undefined && pattern.port !== port) continue;
    if (pattern.wildcard ? host.endsWith(`.${pattern.host}`) : host === pattern.host) return true;
  }
  return false;
}
