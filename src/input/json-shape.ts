/**
 * What JSON.parse lets through silently: a key given twice in one object (the last one
 * wins, so `{"source":"oob","source":"rescope"}` would be read as whichever came last)
 * and nesting far deeper than any message has (the validators and error messages that
 * follow walk values recursively). Pure; runs on text JSON.parse has already accepted.
 */

/** Deeper than any message or request nests (they nest two levels). */
export const maxDepth = 32;

/** Why `text` (valid JSON) is refused, or null. */
export function duplicateKeyOrDepth(text: string): string | null {
  // One entry per open object or array: the keys seen so far (null for arrays).
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.has(key)) return `the key ${JSON.stringify(key).slice(0, 60)} appears twice in one object`;
        top.add(key);
      }
      expectKey = false;
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > maxDepth) return `nested deeper than ${maxDepth} levels`;
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return null;
}

/** Index of the closing quote of the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i;
  }
  return text.length - 1;
}
