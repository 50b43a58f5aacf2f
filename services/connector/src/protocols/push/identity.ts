import { Errors, HeraldError, clientIdOf, isPlatform, isValidName } from '@herald/wire';
import type { ParsedUrlQuery } from 'node:querystring';
import type { Identity } from '../../core/socket-data';

function single(query: ParsedUrlQuery, name: string): string | undefined | null {
  const value = query[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null; // repeated parameter: ambiguous, refused
}

/**
 * Reads the client's identity from the handshake query, in the seed's order and with its messages
 * (spec/seed-behaviour.md, 002 "Client identity and the connect flow" steps 4–7). `userid` defaults
 * to `uuid`, `platform` to `web`; `activityBroadcast` is a real boolean (`"false"` is false).
 */
export function identityFromQuery(namespace: string, query: ParsedUrlQuery): Identity {
  const uuid = single(query, 'uuid');
  if (!isValidName('uuid', uuid)) throw new HeraldError(Errors.HS_UUID_INVALID);
  const rawUserid = single(query, 'userid');
  if (rawUserid === null || (rawUserid !== undefined && rawUserid !== '' && !isValidName('userid', rawUserid))) {
    throw new HeraldError(Errors.HS_USERID_INVALID);
  }
  const rawPlatform = single(query, 'platform');
  if (rawPlatform === null || (rawPlatform !== undefined && rawPlatform !== '' && !isPlatform(rawPlatform))) {
    throw new HeraldError(Errors.HS_PLATFORM_INVALID);
  }
  const rawBroadcast = single(query, 'activityBroadcast');
  let activityBroadcast = false;
  if (rawBroadcast === 'true' || rawBroadcast === '1') activityBroadcast = true;
  else if (rawBroadcast !== undefined && rawBroadcast !== 'false' && rawBroadcast !== '0' && rawBroadcast !== '') {
    throw new HeraldError(Errors.HS_ACTIVITY_BROADCAST_INVALID);
  }

  const userid = rawUserid || uuid;
  const platform = isPlatform(rawPlatform) ? rawPlatform : 'web';
  return Object.freeze({
    namespace,
    uuid,
    userid,
    platform,
    clientId: clientIdOf(namespace, userid, platform, uuid),
    activityBroadcast,
  });
}
