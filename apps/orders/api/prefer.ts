// RFC 7240 Prefer: the `wait` preference of POST /v1/orders (answer with the outcome if it comes in time).

/** The longest `Prefer: wait` honoured, in seconds (a longer one is cut to this). */
export const MAX_PREFER_WAIT_S = 60;

/** The `wait` preference of an RFC 7240 Prefer header, in seconds (capped); undefined when absent or malformed (ignored, as the RFC asks). */
export function preferredWait(header: string | string[] | undefined): number | undefined {
  for (const preference of [header ?? []].flat().flatMap((h) => h.split(','))) {
    const match = /^\s*wait\s*=\s*"?(\d{1,9})"?\s*(;.*)?$/i.exec(preference);
    if (match) return Math.min(Number(match[1]), MAX_PREFER_WAIT_S);
  }
  return undefined;
}
