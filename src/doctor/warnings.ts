/**
 * The texts of an HTTP Warning header (`299 - "text"`, several joined by ", "): how the API server
 * passes on what admission webhooks warn about.
 */
export function warningTexts(header: string | undefined): string[] {
  return [...(header ?? '').matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
}
