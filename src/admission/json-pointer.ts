// RFC 6901: `~` and `/` inside a reference token must be escaped, in that order. Annotation keys
// such as `pullgate.dev/original-images` contain `/`, and an unescaped one would address a
// nested member instead (fast-json-patch and evanphx/json-patch both follow the RFC).
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function pointer(...tokens: Array<string | number>): string {
  return tokens.map((t) => '/' + escapePointerToken(String(t))).join('');
}
