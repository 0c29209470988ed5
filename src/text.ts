// Text that came from a server or an input line, made safe to show: a Location with a C1 control
// or an ESC in a bad line must not drive the terminal it is printed on, nor sit raw in a report.

// C0 controls, DEL and C1 controls (U+009B alone is a CSI on many terminals), the Unicode line
// and paragraph separators, which break a record in two for some readers, and the bidirectional
// marks, embeddings, overrides and isolates, which reorder what follows them on screen
// (`\u202etxt.exe` shows as `exe.txt`: CVE-2021-42574's trick on a file name).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `\xNN` (or `\uNNNN`) in place of every control character. Idempotent on its own output, so it is
 * safe to apply both where a message is made and where it is printed.
 */
export function escapeControls(s: string): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(s)) return s;
  return s.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** The URL as it may be shown: the password replaced by `***`. */
export function maskUrl(href: string): string {
  // Only the authority's userinfo: `scheme://user:password@host`.
  return href.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#@]*?:)[^/?#@]*@/, '$1***@');
}

/** Any `//user:password@` inside free text (an invalid input line) shown as `//user:***@`. */
export function maskText(s: string): string {
  return s.includes('@') ? s.replace(/(\/\/[^/?#@\s:]*:)[^/?#@\s]*@/g, '$1***@') : s;
}
