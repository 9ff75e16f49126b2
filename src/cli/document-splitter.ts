/** One document of a YAML stream, as source text. */
export interface DocumentSource {
  /** 1-based position in the stream, as a reader of the stream counts documents. */
  index: number;
  /** 1-based line of the stream on which `text` begins. */
  line: number;
  /** The document's lines, with any comments and directives before its `---` line. */
  text: string;
  /** `text` has its own `---` line, so it can be written out as it is. */
  explicitStart: boolean;
  /** `text` begins with directives (`%YAML`, `%TAG`), which may only follow a `...` line. */
  directives: boolean;
}

/** What decides a line's part in splitting: its first four characters at most. */
const HEAD = 4;

/** `---` or `...` followed by a space, a tab or the end of the line (of the input, when final). */
function markerAt(text: string, pos: number, marker: '---' | '...', final: boolean): boolean {
  if (!text.startsWith(marker, pos)) return false;
  const next = text[pos + 3];
  return next === undefined ? final : next === ' ' || next === '\t' || next === '\r' || next === '\n';
}

/** Whether text[from, to) holds anything but spaces, tabs and line ends. */
function hasContent(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return true;
  }
  return false;
}

/**
 * Cuts a YAML stream into its documents as chunks arrive, the way kubectl's and Helm's readers do:
 * a line that starts with `---` begins a document and a `...` line ends one (YAML allows neither
 * inside a scalar, so the split never lands inside a value). Each document is then parsed on its
 * own, which is also YAML's rule: anchors never reach across documents.
 *
 * Only the first characters of each line are looked at, and text is kept as slices of the chunks
 * until a document is complete, so the work is linear in the input and the memory is one document
 * plus one chunk.
 */
export class DocumentSplitter {
  /** Text of the current document so far. */
  #parts: string[] = [];
  /** Start of a line whose first characters have not all arrived yet (at most HEAD - 1 of them). */
  #carry = '';
  /** The current line began in an earlier chunk. */
  #midLine = false;
  /** How the line that began in an earlier chunk is being read. */
  #midLineBlank = false;
  #midLineEndsDocument = false;
  #first = true;
  /** Stream line of the line being read. */
  #line = 1;
  /** Stream line on which the current document's text begins. */
  #startLine = 1;
  #index = 0;
  /** The current document has a `---` line or content (not only comments, directives, blank lines). */
  #hasDocument = false;
  #explicitStart = false;
  #directives = false;

  /** Feeds the next chunk; returns the documents it completed. */
  push(chunk: string): DocumentSource[] {
    const out: DocumentSource[] = [];
    let text = chunk;
    if (this.#first && text.length > 0) {
      this.#first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#carry) {
      text = this.#carry + text;
      this.#carry = '';
    }
    this.#scan(text, false, out);
    return out;
  }

  /** Ends the stream; returns the documents still open. */
  end(): DocumentSource[] {
    const out: DocumentSource[] = [];
    const text = this.#carry;
    this.#carry = '';
    if (text) this.#scan(text, true, out);
    this.#flush(out);
    return out;
  }

  #scan(text: string, final: boolean, out: DocumentSource[]): void {
    let cut = 0;
    let pos = 0;
    if (this.#midLine) {
      const nl = text.indexOf('\n');
      const end = nl === -1 ? text.length : nl + 1;
      if (this.#midLineBlank && hasContent(text, 0, end)) {
        this.#midLineBlank = false;
        this.#hasDocument = true;
      }
      if (nl === -1) {
        this.#parts.push(text);
        return;
      }
      this.#midLine = false;
      this.#line += 1;
      pos = end;
      if (this.#midLineEndsDocument) {
        this.#parts.push(text.slice(0, end));
        cut = end;
        this.#flush(out);
      }
    }
    while (pos < text.length) {
      // At the start of a line.
      const nl = text.indexOf('\n', pos);
      if (nl === -1 && !final && text.length - pos < HEAD) {
        if (pos > cut) this.#parts.push(text.slice(cut, pos));
        this.#carry = text.slice(pos);
        return;
      }
      const end = nl === -1 ? text.length : nl + 1;
      let endsDocument = false;
      let blank = false;
      if (markerAt(text, pos, '---', final)) {
        if (this.#hasDocument) {
          if (pos > cut) this.#parts.push(text.slice(cut, pos));
          cut = pos;
          this.#flush(out);
        }
        this.#hasDocument = true;
        this.#explicitStart = true;
      } else if (markerAt(text, pos, '...', final)) {
        // Even with nothing before it, `...` closes a (then empty) document, as the yaml package counts.
        this.#hasDocument = true;
        endsDocument = true;
      } else if (!this.#hasDocument) {
        const c = text[pos];
        // Before a document's content, `%` starts a directive and `#` a comment.
        if (c === '%') this.#directives = true;
        else if (c !== '#') {
          blank = !hasContent(text, pos, end);
          if (!blank) this.#hasDocument = true;
        }
      }
      if (nl === -1) {
        // The line goes on in the next chunk.
        this.#midLine = true;
        this.#midLineBlank = blank;
        this.#midLineEndsDocument = endsDocument;
        break;
      }
      this.#line += 1;
      pos = end;
      if (endsDocument) {
        this.#parts.push(text.slice(cut, end));
        cut = end;
        this.#flush(out);
      }
    }
    if (cut < text.length) this.#parts.push(text.slice(cut));
  }

  /**
   * Emits the current document, if it is one, and starts the next at the current line. Comments
   * or directives with no document after them are dropped, as the yaml package drops them.
   */
  #flush(out: DocumentSource[]): void {
    if (this.#hasDocument) {
      this.#index += 1;
      out.push({ index: this.#index, line: this.#startLine, text: this.#parts.join(''), explicitStart: this.#explicitStart, directives: this.#directives });
    }
    this.#parts = [];
    this.#hasDocument = false;
    this.#explicitStart = false;
    this.#directives = false;
    this.#startLine = this.#line;
  }
}
