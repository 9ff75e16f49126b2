/** Input that `preview` cannot read: the message names the input, the document and, where known, the line. */
export class PreviewInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreviewInputError';
  }
}
