// The library's errors in JavaScript: every error thrown by a Sova call is
// a SovaError carrying the stable code of spec appendix B.

/** An error of the Sova library, with its stable code (spec appendix B). */
export class SovaError extends Error {
  /**
   * @param {string} code the error's code (e.g. "Decrypt", "UnexpectedPeer")
   * @param {string[]} codes the code, then the codes of the errors it wraps
   * @param {string} message the library's description
   */
  constructor(code, codes, message) {
    super(message);
    this.name = "SovaError";
    /** The error's stable code. */
    this.code = code;
    /** The code followed by those of the wrapped errors: ["Decrypt", "Authentication"]. */
    this.codes = Object.freeze([...codes]);
    /** The innermost code: the reason (equal to `code` for an error that wraps none). */
    this.reason = this.codes[this.codes.length - 1] ?? code;
  }
}

/** Called by the WebAssembly module to make the error it throws. */
export function sovaError(code, codes, message) {
  return new SovaError(code, codes, message);
}
