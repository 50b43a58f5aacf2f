/** The APNs device token of bench device `i`: 64 hex digits, distinct per device. */
export function deviceToken(i) {
  return `a0${i.toString(16).padStart(62, '0')}`;
}
