import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Where a tenant's callbacks and webhooks may not go (unless HERALD_CALLBACK_ALLOW_PRIVATE): the
 * host Herald runs on (loopback, unspecified), the link-local range, which holds the cloud
 * metadata services (169.254.169.254), and AWS's IPv6 metadata address fd00:ec2::254.
 * Private networks (RFC 1918, fc00::/7) are allowed: a tenant's backend often lives next to Herald,
 * and the operator who does not want that filters egress (docs/decisions.md).
 */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return isRefusedV4(address);
  if (family !== 6) return false;
  const v6 = address.toLowerCase().replace(/^\[|\]$/g, '');
  // IPv4-mapped (::ffff:a.b.c.d or ::ffff:xxxx:xxxx) and IPv4-compatible forms.
  const mapped = /^(?:0{0,4}:){0,5}(?:ffff:)?((?:\d{1,3}\.){3}\d{1,3})$/.exec(v6.replace(/^::/, '0::'));
  if (mapped) return isRefusedV4(mapped[1]!);
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (hexMapped) {
    const high = parseInt(hexMapped[1]!, 16);
    const low = parseInt(hexMapped[2]!, 16);
    return isRefusedV4(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  const groups = expandV6(v6);
  if (groups === undefined) return true;
  if (groups.every((g) => g === 0)) return true; // ::
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return true; // ::1
  if ((groups[0]! & 0xffc0) === 0xfe80) return true; // fe80::/10
  if (groups.join(':') === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(':')) return true; // AWS metadata (IPv6)
  return false;
}

function isRefusedV4(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number];
  return a === 127 || a === 0 || (a === 169 && b === 254);
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it has another form. */
function expandV6(address: string): number[] | undefined {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (text: string) => (text === '' ? [] : text.split(':').map((g) => parseInt(g, 16)));
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0) || [...left, ...right].some((g) => Number.isNaN(g))) return undefined;
  return [...left, ...Array<number>(fill).fill(0), ...right];
}

/**
 * True when a callback URL's host is refused as written (at save): a literal refused address, or
 * `localhost`. Names are checked again after DNS resolution when the callback is called.
 */
export function isRefusedCallbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isRefusedAddress(host);
}

/**
 * True when a callback to `url` must not be made: its host is refused as written, or one of the
 * addresses it resolves to is refused. Checked right before each call; the name is resolved again
 * by the HTTP client, so a DNS answer that changes between the two (rebinding) is not caught here —
 * an operator who needs that filters egress (docs/decisions.md).
 */
export async function isRefusedCallbackUrl(url: string): Promise<boolean> {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return true;
  }
  if (isRefusedCallbackHost(hostname)) return true;
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return false;
  try {
    const addresses = await lookup(host, { all: true, verbatim: true });
    return addresses.some(({ address }) => isRefusedAddress(address));
  } catch {
    return false; // Unresolvable: the call itself fails and says so.
  }
}
