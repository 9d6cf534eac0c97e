/** An error of the Sova library, with its stable code (spec appendix B). */
export class SovaError extends Error {
  constructor(code: string, codes: string[], message: string);
  readonly name: "SovaError";
  /** The error's stable code, e.g. "Decrypt", "UnexpectedPeer", "Storage". */
  readonly code: string;
  /** The code followed by those of the wrapped errors: ["Decrypt", "Authentication"]. */
  readonly codes: readonly string[];
  /** The innermost code: the reason ("Authentication"); equal to `code` when nothing is wrapped. */
  readonly reason: string;
}
/** @internal Called by the WebAssembly module. */
export function sovaError(code: string, codes: string[], message: string): SovaError;
