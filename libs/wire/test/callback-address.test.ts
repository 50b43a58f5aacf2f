import { isRefusedAddress, isRefusedCallbackHost, isRefusedCallbackUrl } from '../src/callback-address';

describe('callback addresses refused unless HERALD_CALLBACK_ALLOW_PRIVATE', () => {
  test.each([
    '127.0.0.1', '127.255.0.9', '0.0.0.0', '169.254.169.254', '169.254.1.1',
    '::1', '0:0:0:0:0:0:0:1', '::', 'fe80::1', 'febf:ffff::1', 'fd00:ec2::254',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:0.0.0.0',
  ])('%s is refused', (address) => {
    expect(isRefusedAddress(address)).toBe(true);
  });

  test.each(['10.0.0.1', '172.16.5.4', '192.168.1.1', '8.8.8.8', '100.64.0.1', 'fc00::1', 'fd12:3456::1', 'fec0::1', '2001:db8::1', '::ffff:8.8.8.8'])(
    '%s is allowed (private networks included: docs/decisions.md)',
    (address) => {
      expect(isRefusedAddress(address)).toBe(false);
    },
  );

  test('hosts as URLs write them: brackets, localhost, a trailing dot, decimal IPv4 normalised by URL', () => {
    expect(isRefusedCallbackHost('[::1]')).toBe(true);
    expect(isRefusedCallbackHost('LOCALHOST')).toBe(true);
    expect(isRefusedCallbackHost('api.localhost')).toBe(true);
    expect(isRefusedCallbackHost('localhost.')).toBe(true);
    expect(isRefusedCallbackHost(new URL('http://2130706433/').hostname)).toBe(true);
    expect(isRefusedCallbackHost(new URL('http://0x7f.1/').hostname)).toBe(true);
    expect(isRefusedCallbackHost('example.com')).toBe(false);
  });

  test('URLs: refused hosts and names, allowed private addresses, unparsable URLs', async () => {
    // The resolution of other names is not tested here: no name but localhost resolves to the
    // loopback on every machine without a DNS server of the test's own.
    expect(await isRefusedCallbackUrl('http://localhost:9/cb')).toBe(true);
    expect(await isRefusedCallbackUrl('http://127.0.0.1:9/cb')).toBe(true);
    expect(await isRefusedCallbackUrl('http://10.1.2.3/cb')).toBe(false);
    expect(await isRefusedCallbackUrl('not a url')).toBe(true);
  });
});
